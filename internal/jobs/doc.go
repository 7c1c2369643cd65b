// Package jobs owns syncd's River jobs: the workers that run them and the
// River client configuration the service starts them with. Their arguments
// (what the webhook handler enqueues) are in the leaf package jobargs.
//
// Every stored webhook event of a synced type gets one ApplyEventArgs job,
// unique by event id while it is in flight, inserted in the transaction that
// stores the event. The worker applies the event, records its outcome on the
// event row and completes the job in one transaction, so an event is applied
// and marked exactly when its job completes.
//
// Reconciliation runs are ReconcileArgs jobs on their own queue, one worker
// wide: started by hand (Reconciler.StartRun, behind POST /admin/reconcile
// and `syncd reconcile`), by the nightly periodic job, or at start-up when the
// last successful run is more than a day old. The run row and its job are
// inserted together, and a unique index on running rows keeps any number of
// triggers and replicas down to one run at a time.
package jobs
