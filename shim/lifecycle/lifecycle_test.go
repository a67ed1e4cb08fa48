package lifecycle

import (
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	type edge struct {
		from Status
		ev   Event
	}
	allowed := map[edge]Status{
		{Created, Start}:  Running,
		{Created, Exit}:   Stopped,
		{Running, Pause}:  Paused,
		{Running, Exit}:   Stopped,
		{Paused, Resume}:  Running,
		{Paused, Exit}:    Stopped,
		{Stopped, Delete}: Deleted,
	}
	for s := Created; s <= Deleted; s++ {
		for e := Start; e <= Delete; e++ {
			got, err := Next(s, e)
			want, ok := allowed[edge{s, e}]
			switch {
			case ok && (err != nil || got != want):
				t.Errorf("%s --%s--> %s, %v; want %s", s, e, got, err, want)
			case !ok && err == nil:
				t.Errorf("%s --%s--> %s: allowed, want refused", s, e, got)
			case !ok && got != s:
				t.Errorf("%s --%s--> refused but moved to %s", s, e, got)
			case !ok && (s == Stopped || s == Deleted) && !errors.Is(err, ErrGone):
				t.Errorf("%s --%s-->: %v, want ErrGone", s, e, err)
			case !ok && s != Stopped && s != Deleted && !errors.Is(err, ErrState):
				t.Errorf("%s --%s-->: %v, want ErrState", s, e, err)
			}
		}
	}
}

// A walk through the whole life, as a container's init lives it.
func TestLife(t *testing.T) {
	s := Created
	for _, e := range []Event{Start, Pause, Resume, Pause, Exit, Delete} {
		var err error
		if s, err = Next(s, e); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
	}
	if s != Deleted {
		t.Fatalf("ended %s", s)
	}
}
