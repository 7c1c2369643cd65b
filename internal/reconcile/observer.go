package reconcile

import "github.com/syncd/syncd/internal/store"

// Observer hears about finished runs, for metrics; *metrics.Metrics
// implements it. The package itself knows nothing of Prometheus.
type Observer interface {
	// ReconcileFinished is called once per finished run with its status
	// (succeeded or failed).
	ReconcileFinished(status store.RunStatus)
	// ReconcileDrift reports rows a run repaired: kind is user,
	// organization or membership, action created, updated or deleted. Dry
	// runs repair nothing and report no drift.
	ReconcileDrift(kind store.Kind, action string, n int64)
}

type noObserver struct{}

func (noObserver) ReconcileFinished(store.RunStatus)        {}
func (noObserver) ReconcileDrift(store.Kind, string, int64) {}
