// Package config reads syncd's configuration from the environment, exactly
// under the documented names, and turns every bad value into an *Error that
// names the variable and says what to set instead. Values are parsed once,
// at start-up, so a typo stops the process (exit 2) rather than surfacing
// hours later in a nightly job.
package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/robfig/cron/v3"
)

// Documented defaults: users rely on them, so they change only with the README.
const (
	// DefaultClerkAPIURL is Clerk's production Backend API, /v1 included
	// (the same as clerkapi.DefaultBaseURL; a test in cmd/syncd keeps the
	// two equal, since config imports nothing of the domain).
	DefaultClerkAPIURL       = "https://api.clerk.com/v1"
	DefaultAddr              = ":8080"
	DefaultReconcileSchedule = "0 3 * * *"
	DefaultWorkers           = 20
	// DefaultClerkRPS is the pace of Backend API requests when
	// SYNCD_CLERK_RPS is unset: 200 requests per 10 s, a fifth of a
	// production instance's budget, leaving room for the rest of the
	// application. A development instance allows only 100 per 10 s: there
	// 429s would do the pacing, so set SYNCD_CLERK_RPS below 10.
	DefaultClerkRPS = 20
	// DefaultEventRetention is SYNCD_EVENT_RETENTION's default: 30 days.
	DefaultEventRetention = 720 * time.Hour

	// MinWebhookSecretBytes is the least a whsec_ secret may decode to: 128
	// bits, below which an HMAC key can be guessed. Clerk's own are 24 bytes.
	MinWebhookSecretBytes = 16
	// MinAdminTokenChars is the least SYNCD_ADMIN_TOKEN may be: the token
	// opens River UI, whose API deletes jobs and pauses queues.
	MinAdminTokenChars = 24
)

// Error is a configuration problem: which variable, what is wrong with it,
// and what to do. It never quotes a secret's value.
type Error struct {
	Var     string
	Problem string
	Fix     string
}

func (e *Error) Error() string {
	if e.Fix == "" {
		return fmt.Sprintf("%s: %s", e.Var, e.Problem)
	}
	return fmt.Sprintf("%s: %s; %s", e.Var, e.Problem, e.Fix)
}

// Config is syncd's configuration. Requiredness depends on the command, so
// Load only checks that what is set is well formed; the Require methods
// check presence.
type Config struct {
	DatabaseURL       string
	WebhookSecrets    []string
	ClerkSecretKey    string
	ClerkAPIURL       string
	Addr              string
	MetricsAddr       string // empty: /metrics and the probes are on Addr
	AdminToken        string
	ReconcileSchedule cron.Schedule // nil when `off`
	ReconcileSpec     string        // the schedule as written, or "off"
	Workers           int
	ClerkRPS          float64
	LogLevel          slog.Level
	LogFormat         string // json or text
	// EventRetention is how long finished webhook events are kept
	// (SYNCD_EVENT_RETENTION); 0 when `off`, keeping them forever.
	EventRetention time.Duration
}

// Load reads every variable through getenv.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:    strings.TrimSpace(getenv("DATABASE_URL")),
		ClerkSecretKey: strings.TrimSpace(getenv("CLERK_SECRET_KEY")),
		ClerkAPIURL:    or(strings.TrimSpace(getenv("CLERK_API_URL")), DefaultClerkAPIURL),
		Addr:           or(strings.TrimSpace(getenv("SYNCD_ADDR")), DefaultAddr),
		MetricsAddr:    strings.TrimSpace(getenv("SYNCD_METRICS_ADDR")),
		AdminToken:     strings.TrimSpace(getenv("SYNCD_ADMIN_TOKEN")),
		ReconcileSpec:  or(strings.TrimSpace(getenv("SYNCD_RECONCILE_SCHEDULE")), DefaultReconcileSchedule),
		Workers:        DefaultWorkers,
		ClerkRPS:       DefaultClerkRPS,
		LogLevel:       slog.LevelInfo,
		LogFormat:      "json",
		EventRetention: DefaultEventRetention,
	}
	if c.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
			// pgx's message can quote the URL, password included: say only
			// that it did not parse.
			return c, &Error{Var: "DATABASE_URL", Problem: "is not a valid Postgres connection string",
				Fix: "set it like postgres://user:password@host:5432/dbname?sslmode=disable"}
		}
	}
	secrets, err := webhookSecrets(getenv)
	if err != nil {
		return c, err
	}
	c.WebhookSecrets = secrets
	if c.AdminToken != "" && utf8.RuneCountInString(c.AdminToken) < MinAdminTokenChars {
		return c, &Error{Var: "SYNCD_ADMIN_TOKEN", Problem: fmt.Sprintf("is shorter than %d characters", MinAdminTokenChars),
			Fix: "set a long random token, e.g. the output of `openssl rand -hex 32`, or unset it to turn the admin routes off"}
	}
	if c.ClerkSecretKey != "" && !strings.HasPrefix(c.ClerkSecretKey, "sk_") {
		return c, &Error{Var: "CLERK_SECRET_KEY", Problem: "does not start with sk_",
			Fix: "use a Secret Key from the Clerk Dashboard (API keys), sk_live_... or sk_test_..."}
	}
	if u, err := url.Parse(c.ClerkAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, &Error{Var: "CLERK_API_URL", Problem: "is not an http(s) URL",
			Fix: "leave it unset for " + DefaultClerkAPIURL + " or set a full URL such as http://127.0.0.1:9000/v1"}
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return c, &Error{Var: "SYNCD_ADDR", Problem: fmt.Sprintf("%q is not host:port", c.Addr),
			Fix: "set it like :8080 or 127.0.0.1:8080"}
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err != nil || port == "" {
			return c, &Error{Var: "SYNCD_METRICS_ADDR", Problem: fmt.Sprintf("%q is not host:port", c.MetricsAddr),
				Fix: "set it like 127.0.0.1:9090 or :9090, or unset it to serve /metrics on SYNCD_ADDR"}
		}
		if c.MetricsAddr == c.Addr && port != "0" {
			return c, &Error{Var: "SYNCD_METRICS_ADDR", Problem: "is the same address as SYNCD_ADDR",
				Fix: "give it a port of its own, or unset it to serve /metrics on SYNCD_ADDR"}
		}
	}
	if strings.EqualFold(c.ReconcileSpec, "off") {
		c.ReconcileSpec = "off"
	} else {
		sched, err := cron.ParseStandard(c.ReconcileSpec)
		if err != nil {
			return c, &Error{Var: "SYNCD_RECONCILE_SCHEDULE", Problem: "is not a cron schedule: " + err.Error(),
				Fix: "use five fields in UTC such as \"0 3 * * *\", or off"}
		}
		c.ReconcileSchedule = sched
	}
	if v := strings.TrimSpace(getenv("SYNCD_WORKERS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return c, &Error{Var: "SYNCD_WORKERS", Problem: fmt.Sprintf("%q is not a whole number from 1 to 10000", v),
				Fix: fmt.Sprintf("unset it for %d", DefaultWorkers)}
		}
		c.Workers = n
	}
	if v := strings.TrimSpace(getenv("SYNCD_CLERK_RPS")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || f > 100000 {
			return c, &Error{Var: "SYNCD_CLERK_RPS", Problem: fmt.Sprintf("%q is not a positive number", v),
				Fix: fmt.Sprintf("unset it for %d requests/s; Clerk allows 100 per 10 s on development instances and 1000 per 10 s in production", DefaultClerkRPS)}
		}
		c.ClerkRPS = f
	}
	if v := strings.TrimSpace(getenv("SYNCD_LOG_LEVEL")); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, &Error{Var: "SYNCD_LOG_LEVEL", Problem: fmt.Sprintf("%q is not a level", v),
				Fix: "use debug, info, warn or error"}
		}
	}
	if v := strings.ToLower(strings.TrimSpace(getenv("SYNCD_LOG_FORMAT"))); v != "" {
		if v != "json" && v != "text" {
			return c, &Error{Var: "SYNCD_LOG_FORMAT", Problem: fmt.Sprintf("%q is not a format", v),
				Fix: "use json or text"}
		}
		c.LogFormat = v
	}
	if v := getenv("SYNCD_EVENT_RETENTION"); strings.TrimSpace(v) != "" {
		d, err := eventRetention(v)
		if err != nil {
			return c, err
		}
		c.EventRetention = d
	}
	return c, nil
}

// eventRetention reads SYNCD_EVENT_RETENTION: `off` to keep events forever
// (0), a Go duration such as 720h or 90m, or a whole number of days such as
// 30d. Under a minute is refused: events must outlive their apply job.
func eventRetention(raw string) (time.Duration, error) {
	v := strings.TrimSpace(raw)
	if strings.EqualFold(v, "off") {
		return 0, nil
	}
	bad := func(problem string) error {
		return &Error{Var: "SYNCD_EVENT_RETENTION", Problem: problem,
			Fix: "set it to a duration such as 720h or 30d, or to off to keep finished events forever"}
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, bad(fmt.Sprintf("%q is not a whole number of days from 1 to 36500", raw))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(v)
		if err != nil {
			return 0, bad(fmt.Sprintf("%q is not a duration", raw))
		}
	}
	if d < time.Minute {
		return 0, bad(fmt.Sprintf("%q is shorter than a minute (events must outlive their apply job)", raw))
	}
	return d, nil
}

// RequireDatabase checks that DATABASE_URL is set.
func (c Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return &Error{Var: "DATABASE_URL", Problem: "is not set",
			Fix: "set it to the Postgres connection string, e.g. postgres://postgres@127.0.0.1:5432/syncd (`make run` finds or starts one for you)"}
	}
	return nil
}

// RequireWebhookSecret checks that CLERK_WEBHOOK_SECRET (or its alias
// CLERK_WEBHOOK_SIGNING_SECRET) is set.
func (c Config) RequireWebhookSecret() error {
	if len(c.WebhookSecrets) == 0 {
		return &Error{Var: "CLERK_WEBHOOK_SECRET", Problem: "is not set",
			Fix: "set it (or CLERK_WEBHOOK_SIGNING_SECRET, the name Clerk's SDKs read) to the endpoint's Signing Secret (whsec_...) from the Clerk Dashboard, Webhooks page"}
	}
	return nil
}

// RequireClerkKey checks that CLERK_SECRET_KEY is set.
func (c Config) RequireClerkKey() error {
	if c.ClerkSecretKey == "" {
		return &Error{Var: "CLERK_SECRET_KEY", Problem: "is not set",
			Fix: "set it to a Secret Key (sk_...) from the Clerk Dashboard, API keys page; reconciliation reads the Backend API with it"}
	}
	return nil
}

// webhookSecrets reads CLERK_WEBHOOK_SECRET and its alias
// CLERK_WEBHOOK_SIGNING_SECRET (the name Clerk's own SDKs read). Either may
// be set; both may be set only to the same secrets. This is the one place a
// secret is checked: the webhook verifier trusts what it is given.
func webhookSecrets(getenv func(string) string) ([]string, error) {
	const name, alias = "CLERK_WEBHOOK_SECRET", "CLERK_WEBHOOK_SIGNING_SECRET"
	primary, err := parseWebhookSecrets(name, getenv(name))
	if err != nil {
		return nil, err
	}
	aliased, err := parseWebhookSecrets(alias, getenv(alias))
	if err != nil {
		return nil, err
	}
	if primary != nil && aliased != nil && !slices.Equal(primary, aliased) {
		return nil, &Error{Var: name, Problem: "and " + alias + " are both set, to different secrets",
			Fix: "set only one of them (" + alias + " is an alias), or give both the same value"}
	}
	if primary == nil {
		return aliased, nil
	}
	return primary, nil
}

// parseWebhookSecrets splits one variable's value into its secrets (spaces
// or commas between them, for rotation) and checks each: whsec_ (optional,
// as Svix allows) then standard base64 of at least MinWebhookSecretBytes
// bytes. nil when the variable is unset. Errors count secrets, never quote
// them.
func parseWebhookSecrets(name, value string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	const fix = "copy the endpoint's Signing Secret (whsec_...) from the Clerk Dashboard; separate several with spaces or commas"
	secrets := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(secrets) == 0 {
		return nil, &Error{Var: name, Problem: "holds no secret", Fix: fix}
	}
	for i, s := range secrets {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		switch {
		case err != nil:
			return nil, &Error{Var: name, Problem: fmt.Sprintf("secret %d of %d is not whsec_ followed by base64", i+1, len(secrets)), Fix: fix}
		case len(raw) < MinWebhookSecretBytes:
			// An empty key would let anyone sign (svix-webhooks accepts
			// one), and a short one can be guessed.
			return nil, &Error{Var: name, Problem: fmt.Sprintf("secret %d of %d decodes to %d bytes, fewer than the %d required",
				i+1, len(secrets), len(raw), MinWebhookSecretBytes), Fix: fix}
		}
	}
	return secrets, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
