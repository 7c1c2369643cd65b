package clerkauth

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the counters a service registers to watch its sign-ins and
// authorization decisions. A nil *Metrics counts nothing, so metrics stay
// optional everywhere.
type Metrics struct {
	verifications *prometheus.CounterVec
	jwksFetches   *prometheus.CounterVec
	decisions     *prometheus.CounterVec
}

// NewMetrics creates the counters and registers them with reg:
//
//   - clerkauth_verifications_total{outcome}: "ok" or a Reason
//     (expired, unknown_key, unauthorized_party, ...)
//   - clerkauth_jwks_fetches_total{result}: "ok" or "error"
//   - clerkauth_authorization_decisions_total{check, decision}: check is
//     member, role, permission or second_factor; decision is allow, deny
//     or error (the database could not answer)
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkauth_verifications_total",
			Help: "Session token verifications by outcome: ok, or the reason the token was refused.",
		}, []string{"outcome"}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkauth_jwks_fetches_total",
			Help: "Requests for the session keys (Backend API GET /jwks) by result.",
		}, []string{"result"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "clerkauth_authorization_decisions_total",
			Help: "Authorization decisions answered from the synced tables, by check and decision.",
		}, []string{"check", "decision"}),
	}
	for _, c := range []prometheus.Collector{m.verifications, m.jwksFetches, m.decisions} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("clerkauth: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) verified(outcome string) {
	if m != nil {
		m.verifications.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) fetched(ok bool) {
	if m == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "error"
	}
	m.jwksFetches.WithLabelValues(result).Inc()
}

func (m *Metrics) decided(check, decision string) {
	if m != nil {
		m.decisions.WithLabelValues(check, decision).Inc()
	}
}
