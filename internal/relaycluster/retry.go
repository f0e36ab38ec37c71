package relaycluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// retry calls try, each time with attempt to answer in, until it succeeds,
// again says an error is not worth another try, or ctx ends; it returns
// try's last error. It waits retryWait before the second try, twice that
// before the third, and so on up to retryWaitMax.
//
// JetStream answers a request once or never: one sent while its cluster
// has no meta leader yet, or one whose reply was lost while the leader of
// a new stream was being elected, gets no reply at all, and nats.go does
// not ask again (nats-io/nats.go#949, nats-io/nats-server#3677). So a
// request that may find JetStream busy is sent again after a short wait for
// its answer, not once with the whole of ctx.
func retry(ctx context.Context, attempt time.Duration, again func(error) bool, try func(context.Context) error) error {
	wait := retryWait
	for {
		tctx, cancel := context.WithTimeout(ctx, attempt)
		err := try(tctx)
		cancel()
		if err == nil || !again(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, retryWaitMax)
	}
}

const (
	retryWait    = 100 * time.Millisecond
	retryWaitMax = time.Second
	// createAttempt is how long a request to make the registry or the
	// mailboxes waits for its answer: one JetStream gives takes
	// milliseconds, even with three replicas to elect a leader for.
	createAttempt = 2 * time.Second
)

// transient says whether a request to make a stream failed for what
// passes by itself: no answer in time (lost, or no meta leader yet), no
// JetStream server listening yet, JetStream's cluster busy (503), or
// another relay making the same stream at the same moment (the next try
// finds it and updates it). An error in the request itself, or a server
// without JetStream, is not.
func transient(err error) bool {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
