package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/internal/config"
	"github.com/syncd/syncd/internal/store"
)

func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.RequireDatabase()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// quieter returns a logger for a library (River) that logs routine work at
// info: syncd's own lines are the ones operators read.
func quieter(logger *slog.Logger, cfg config.Config) *slog.Logger {
	if cfg.LogLevel > slog.LevelWarn {
		return logger
	}
	return slog.New(levelFloor{Handler: logger.Handler(), min: slog.LevelWarn})
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (l levelFloor) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= l.min && l.Handler.Enabled(ctx, lvl)
}

func (l levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{Handler: l.Handler.WithAttrs(attrs), min: l.min}
}

func (l levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{Handler: l.Handler.WithGroup(name), min: l.min}
}

// openPool connects to DATABASE_URL. maxConns applies unless the URL sets
// pool_max_conns itself.
func openPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &config.Error{Var: "DATABASE_URL", Problem: "is not a valid Postgres connection string"}
	}
	if maxConns > 0 && !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = maxConns
	}
	store.ConfigurePool(pc)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	return pool, nil
}

// pingPool checks the database answers, naming DATABASE_URL when it does not.
func pingPool(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach the database at DATABASE_URL (%s): %w", redactedHost(pool), err)
	}
	return nil
}

func redactedHost(pool *pgxpool.Pool) string {
	cc := pool.Config().ConnConfig
	return fmt.Sprintf("%s:%d/%s", cc.Host, cc.Port, cc.Database)
}

// connect loads the configuration, requires DATABASE_URL, and opens a pool
// of at most maxConns that has answered a ping. The caller closes the pool.
func connect(ctx context.Context, getenv func(string) string, maxConns int32) (config.Config, *pgxpool.Pool, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, err
	}
	pool, err := openPinged(ctx, cfg, maxConns)
	return cfg, pool, err
}

// openPinged opens a pool on cfg's DATABASE_URL that has answered a ping.
func openPinged(ctx context.Context, cfg config.Config, maxConns int32) (*pgxpool.Pool, error) {
	pool, err := openPool(ctx, cfg.DatabaseURL, maxConns)
	if err != nil {
		return nil, err
	}
	if err := pingPool(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// writeJSON prints v as indented JSON, for the commands' --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
