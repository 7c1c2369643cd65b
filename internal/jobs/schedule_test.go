package jobs

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// SYNCD_RECONCILE_SCHEDULE is UTC: a cron schedule parsed without a zone
// follows the zone of the time it is given, so the schedule is handed UTC
// times whatever zone River's clock or the process uses.
func TestScheduleIsEvaluatedInUTC(t *testing.T) {
	t.Parallel()
	sched, err := cron.ParseStandard("0 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	tokyo := time.FixedZone("UTC+9", 9*60*60)
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, tokyo) // 03:00 UTC
	next := utcSchedule{sched}.Next(from)
	want := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	if !next.Equal(want) {
		t.Fatalf("next run %s, want %s", next, want)
	}
	if job := ReconcilePeriodicJob(sched); job == nil {
		t.Fatal("no periodic job")
	}
}
