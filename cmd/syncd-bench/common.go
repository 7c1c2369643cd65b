package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/store"
	"github.com/syncd/syncd/migrations"
)

func serverURL() string {
	if u := os.Getenv("SYNCD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// benchDB is a database created for one bench and dropped after it.
type benchDB struct {
	Name string
	URL  string
	drop func()
}

// createDB makes a fresh, migrated database on the bench server.
func createDB(ctx context.Context) (*benchDB, error) {
	admin, err := pgx.Connect(ctx, serverURL())
	if err != nil {
		return nil, fmt.Errorf("connect to SYNCD_TEST_DATABASE_URL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "syncd_bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return nil, fmt.Errorf("create bench database: %w", err)
	}
	// The server's URL with only the database changed, so credentials,
	// host and TLS settings carry over as they are.
	u, err := url.Parse(serverURL())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		admin.Close(ctx)
		return nil, fmt.Errorf("SYNCD_TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	db := &benchDB{Name: name, URL: u.String(), drop: func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}}
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		db.Drop()
		return nil, err
	}
	defer pool.Close()
	m, err := store.NewMigrator(pool, migrations.FS, nil)
	if err != nil {
		db.Drop()
		return nil, err
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		db.Drop()
		return nil, fmt.Errorf("migrate bench database: %w", err)
	}
	return db, nil
}

// Drop removes the database.
func (d *benchDB) Drop() { d.drop() }

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbench runs a custom script against url and returns its TPS.
func pgbench(ctx context.Context, url, script string, clients int, seconds int) (float64, error) {
	f, err := os.CreateTemp("", "syncd-bench-*.sql")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		return 0, err
	}
	f.Close()
	cmd := exec.CommandContext(ctx, "pgbench", "-n", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(seconds), "-f", f.Name(), url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func execSQL(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("prepare bench tables: %w", err)
	}
	return nil
}

// startCPUProfile profiles this process (the workers run in it) until the
// returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// newPool opens a pool configured as `syncd serve` configures its own;
// maxConns 0 keeps pgx's default.
func newPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	store.ConfigurePool(cfg)
	return pgxpool.NewWithConfig(ctx, cfg)
}
