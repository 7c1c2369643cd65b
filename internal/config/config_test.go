package config_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/config"
)

func TestLoadRejectsBadValuesNamingTheVariable(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const other = "whsec_c2Vjb25kLXNlY3JldC0yNC1ieXRlcyEh" // 24 bytes
	weak15 := base64.StdEncoding.EncodeToString([]byte("fifteen-bytes!!"))
	cases := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"database url garbage", map[string]string{"DATABASE_URL": "postgres://u:p4ss@host:notaport/db"}, "DATABASE_URL"},
		{"secret not base64", map[string]string{"CLERK_WEBHOOK_SECRET": "whsec_***"}, "CLERK_WEBHOOK_SECRET"},
		{"second secret bad", map[string]string{"CLERK_WEBHOOK_SECRET": secret + ",whsec_%%"}, "CLERK_WEBHOOK_SECRET"},
		{"secret empty after prefix", map[string]string{"CLERK_WEBHOOK_SECRET": "whsec_"}, "CLERK_WEBHOOK_SECRET"},
		{"secret of one byte", map[string]string{"CLERK_WEBHOOK_SECRET": "whsec_AA=="}, "CLERK_WEBHOOK_SECRET"},
		{"second secret of 15 bytes", map[string]string{"CLERK_WEBHOOK_SECRET": secret + " whsec_" + weak15}, "CLERK_WEBHOOK_SECRET"},
		{"alias secret weak", map[string]string{"CLERK_WEBHOOK_SIGNING_SECRET": "whsec_" + weak15}, "CLERK_WEBHOOK_SIGNING_SECRET"},
		{"secret and alias differ", map[string]string{"CLERK_WEBHOOK_SECRET": secret, "CLERK_WEBHOOK_SIGNING_SECRET": other}, "CLERK_WEBHOOK_SECRET"},
		{"admin token of 4 characters", map[string]string{"SYNCD_ADMIN_TOKEN": "abcd"}, "SYNCD_ADMIN_TOKEN"},
		{"admin token of 23 characters", map[string]string{"SYNCD_ADMIN_TOKEN": strings.Repeat("x", 23)}, "SYNCD_ADMIN_TOKEN"},
		{"metrics addr without port", map[string]string{"SYNCD_METRICS_ADDR": "localhost"}, "SYNCD_METRICS_ADDR"},
		{"metrics addr same as addr", map[string]string{"SYNCD_ADDR": ":8080", "SYNCD_METRICS_ADDR": ":8080"}, "SYNCD_METRICS_ADDR"},
		{"clerk key wrong prefix", map[string]string{"CLERK_SECRET_KEY": "pk_test_abc"}, "CLERK_SECRET_KEY"},
		{"api url not http", map[string]string{"CLERK_API_URL": "ftp://x"}, "CLERK_API_URL"},
		{"addr without port", map[string]string{"SYNCD_ADDR": "localhost"}, "SYNCD_ADDR"},
		{"schedule not cron", map[string]string{"SYNCD_RECONCILE_SCHEDULE": "every night"}, "SYNCD_RECONCILE_SCHEDULE"},
		{"workers zero", map[string]string{"SYNCD_WORKERS": "0"}, "SYNCD_WORKERS"},
		{"workers words", map[string]string{"SYNCD_WORKERS": "many"}, "SYNCD_WORKERS"},
		{"rps negative", map[string]string{"SYNCD_CLERK_RPS": "-1"}, "SYNCD_CLERK_RPS"},
		{"rps NaN", map[string]string{"SYNCD_CLERK_RPS": "NaN"}, "SYNCD_CLERK_RPS"},
		{"log level", map[string]string{"SYNCD_LOG_LEVEL": "loud"}, "SYNCD_LOG_LEVEL"},
		{"log format", map[string]string{"SYNCD_LOG_FORMAT": "xml"}, "SYNCD_LOG_FORMAT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(func(k string) string { return tc.env[k] })
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *config.Error", err)
			}
			if ce.Var != tc.wantVar || !strings.HasPrefix(err.Error(), tc.wantVar+":") {
				t.Fatalf("error %q names %s, want %s", err, ce.Var, tc.wantVar)
			}
			for _, secretVar := range []string{"DATABASE_URL", "CLERK_WEBHOOK_SECRET", "CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_SECRET_KEY", "SYNCD_ADMIN_TOKEN"} {
				for _, v := range strings.FieldsFunc(tc.env[secretVar], func(r rune) bool { return r == ' ' || r == ',' }) {
					v = strings.TrimPrefix(v, "whsec_")
					if len(v) > 3 && strings.Contains(err.Error(), v) {
						t.Fatalf("error %q repeats the value of %s", err, secretVar)
					}
				}
			}
			if strings.Contains(err.Error(), "p4ss") {
				t.Fatalf("error %q leaks a password", err)
			}
		})
	}
}

func TestLoadDefaultsAndRequirements(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.Workers != 20 || cfg.ClerkRPS != 20 || cfg.ClerkAPIURL != "https://api.clerk.com/v1" ||
		cfg.ReconcileSpec != "0 3 * * *" || cfg.ReconcileSchedule == nil || cfg.LogFormat != "json" {
		t.Fatalf("defaults differ from the documented ones: %+v", cfg)
	}
	for _, check := range []struct {
		err  error
		name string
	}{{cfg.RequireDatabase(), "DATABASE_URL"}, {cfg.RequireWebhookSecret(), "CLERK_WEBHOOK_SECRET"}, {cfg.RequireClerkKey(), "CLERK_SECRET_KEY"}} {
		if check.err == nil || !strings.HasPrefix(check.err.Error(), check.name+": is not set") {
			t.Errorf("missing %s: %v", check.name, check.err)
		}
	}
	off, err := config.Load(func(k string) string {
		return map[string]string{"SYNCD_RECONCILE_SCHEDULE": "OFF",
			"CLERK_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2Vjb25kLXNlY3JldC0yNC1ieXRlcyEh"}[k]
	})
	if err != nil || off.ReconcileSchedule != nil || off.ReconcileSpec != "off" || len(off.WebhookSecrets) != 2 {
		t.Fatalf("off schedule / two secrets: %+v %v", off, err)
	}
}

// CLERK_WEBHOOK_SIGNING_SECRET, the name Clerk's SDKs read, works alone, and
// beside CLERK_WEBHOOK_SECRET when both hold the same secrets.
func TestWebhookSecretAlias(t *testing.T) {
	t.Parallel()
	const a, b = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2Vjb25kLXNlY3JldC0yNC1ieXRlcyEh"
	for _, env := range []map[string]string{
		{"CLERK_WEBHOOK_SIGNING_SECRET": a + " " + b},
		{"CLERK_WEBHOOK_SECRET": a + "," + b, "CLERK_WEBHOOK_SIGNING_SECRET": a + " " + b},
		{"CLERK_WEBHOOK_SECRET": a + " " + b, "CLERK_WEBHOOK_SIGNING_SECRET": "  "},
	} {
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		if len(cfg.WebhookSecrets) != 2 || cfg.WebhookSecrets[0] != a || cfg.WebhookSecrets[1] != b || cfg.RequireWebhookSecret() != nil {
			t.Fatalf("%v: secrets %d, want both", env, len(cfg.WebhookSecrets))
		}
	}
}

// SYNCD_EVENT_RETENTION: unset for 30 days, `off` for 0 (keep forever), a
// Go duration, or whole days; anything else, or under a minute, is an
// *Error naming the variable and saying what to set.
func TestEventRetention(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw  string
		want time.Duration
		bad  bool
	}{
		{"", 720 * time.Hour, false},
		{"720h", 720 * time.Hour, false},
		{" 90m ", 90 * time.Minute, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"off", 0, false},
		{"OFF", 0, false},
		{"forever", 0, true},
		{"30", 0, true},
		{"-1h", 0, true},
		{"0", 0, true},
		{"10s", 0, true},
		{"0d", 0, true},
		{"1.5d", 0, true},
		{"a month", 0, true},
	} {
		cfg, err := config.Load(func(k string) string { return map[string]string{"SYNCD_EVENT_RETENTION": c.raw}[k] })
		var ce *config.Error
		switch {
		case c.bad && (!errors.As(err, &ce) || !strings.Contains(err.Error(), "SYNCD_EVENT_RETENTION") || !strings.Contains(err.Error(), "off")):
			t.Errorf("%q: %v, want a configuration error naming SYNCD_EVENT_RETENTION and saying what to set", c.raw, err)
		case !c.bad && (err != nil || cfg.EventRetention != c.want):
			t.Errorf("%q: %v, %v; want %v", c.raw, cfg.EventRetention, err, c.want)
		}
	}
}

func TestAdminTokenAndMetricsAddr(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SYNCD_ADMIN_TOKEN": strings.Repeat("é", 24), "SYNCD_ADDR": "127.0.0.1:0", "SYNCD_METRICS_ADDR": "127.0.0.1:0"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminToken != env["SYNCD_ADMIN_TOKEN"] || cfg.MetricsAddr != "127.0.0.1:0" {
		t.Fatalf("admin token / metrics addr not read: %q", cfg.MetricsAddr)
	}
}
