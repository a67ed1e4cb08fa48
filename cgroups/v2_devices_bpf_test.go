package cgroups

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRetryOnEAGAIN(t *testing.T) {
	cases := []struct {
		name      string
		errs      []error // what each call returns, in order
		wantCalls int
		wantErr   error
	}{
		{"first call loads", []error{nil}, 1, nil},
		{"EAGAIN then loaded", []error{unix.EAGAIN, unix.EAGAIN, nil}, 3, nil},
		{"other errors are not retried", []error{unix.EINVAL}, 1, unix.EINVAL},
		{"EAGAIN to the last attempt", []error{unix.EAGAIN, unix.EAGAIN, unix.EAGAIN, unix.EAGAIN}, 3, unix.EAGAIN},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			fd, err := retryOnEAGAIN(3, func() (int, error) {
				e := c.errs[calls]
				calls++
				if e != nil {
					return -1, e
				}
				return 7, nil
			})
			if calls != c.wantCalls {
				t.Errorf("calls = %d, want %d", calls, c.wantCalls)
			}
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
			if c.wantErr == nil && fd != 7 {
				t.Errorf("fd = %d, want 7", fd)
			}
		})
	}
}
