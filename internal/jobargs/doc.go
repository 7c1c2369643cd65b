// Package jobargs holds the arguments of syncd's River jobs: their kinds,
// queues and uniqueness. It is a leaf, importing no syncd package, so that
// whoever enqueues a job (the webhook handler, replay, the reconcile
// triggers) and the workers that run it (package jobs) agree on one
// definition without the enqueuer importing the workers.
//
// Which event types get an ApplyEventArgs job is not decided here: it is
// apply.Handles, next to the code that applies those types, and the webhook
// handler asks package apply directly. Keeping a copy of the list here would
// make apply import this package (or keep two lists in step) for no gain;
// webhook → apply → store is already acyclic, since apply imports neither
// webhook nor jobs.
package jobargs
