package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncd/syncd/clerkauth"
)

// configError is a missing or malformed setting: exit status 2.
type configError struct {
	Var, Problem string
}

func (e *configError) Error() string { return e.Var + " " + e.Problem }

type config struct {
	databaseURL string
	secretKey   string
	apiURL      string
	parties     []string
	addr        string
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		databaseURL: strings.TrimSpace(getenv("DATABASE_URL")),
		secretKey:   strings.TrimSpace(getenv("CLERK_SECRET_KEY")),
		apiURL:      strings.TrimSpace(getenv("CLERK_API_URL")),
		addr:        strings.TrimSpace(getenv("ORGAPI_ADDR")),
	}
	if c.databaseURL == "" {
		return c, &configError{"DATABASE_URL", "is required: set it to the Postgres database syncd writes (a role granted clerk_reader is enough)"}
	}
	if _, err := pgxpool.ParseConfig(c.databaseURL); err != nil {
		return c, &configError{"DATABASE_URL", "is not a valid Postgres connection string"}
	}
	if c.secretKey == "" {
		return c, &configError{"CLERK_SECRET_KEY", "is required: the session keys are fetched from the Backend API with it (sk_...)"}
	}
	if !strings.HasPrefix(c.secretKey, "sk_") {
		return c, &configError{"CLERK_SECRET_KEY", "does not start with sk_: use the instance's secret key, not the publishable one"}
	}
	if c.apiURL == "" {
		c.apiURL = clerkauth.DefaultAPIURL
	}
	for _, p := range strings.Split(getenv("CLERK_AUTHORIZED_PARTIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.parties = append(c.parties, p)
		}
	}
	if c.addr == "" {
		c.addr = ":8081"
	}
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		return c, &configError{"ORGAPI_ADDR", fmt.Sprintf("%q is not host:port (e.g. :8081)", c.addr)}
	}
	return c, nil
}

// run is the whole program, so tests can run it: it serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 {
		return &configError{"arguments", fmt.Sprintf("are not taken (got %q): orgapi is configured by its environment", args[1:])}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	verifier, err := clerkauth.NewVerifier(clerkauth.Config{
		SecretKey:         cfg.secretKey,
		APIURL:            cfg.apiURL,
		AuthorizedParties: cfg.parties,
	})
	if err != nil {
		return &configError{"CLERK_API_URL or CLERK_AUTHORIZED_PARTIES", err.Error()}
	}
	pool, err := pgxpool.New(ctx, cfg.databaseURL)
	if err != nil {
		return &configError{"DATABASE_URL", "is not a valid Postgres connection string"}
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach the database at DATABASE_URL: %w", err)
	}
	// Half a second: a removed member is refused within that of syncd
	// applying the webhook, and a busy member costs two queries a second.
	authorizer, err := clerkauth.NewAuthorizer(clerkauth.AuthorizerConfig{DB: pool, CacheTTL: 500 * time.Millisecond})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on ORGAPI_ADDR %s: %w", cfg.addr, err)
	}
	srv := &http.Server{
		Handler:           routes(pool, verifier, authorizer),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stdout, "orgapi listening on %s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
