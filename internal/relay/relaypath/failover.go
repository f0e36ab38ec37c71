package relaypath

import "time"

const (
	// relayCheck is how often the chat registers with the relay in use
	// when it has others to move on to: the registration's answer is how
	// it learns the relay still answers, whether or not anyone talks
	// through it, and the relay's refresh (25 s) would leave it registered
	// with a dead one, out of reach, for that long.
	relayCheck = 2 * time.Second
	// relayDead is how long a registration may go unanswered (resent
	// every second meanwhile) before the relay is taken for dead and the
	// next is tried: a few round trips, and three tries.
	relayDead = 3 * time.Second
	// registerRetry is how long after an unanswered registration the
	// next is sent.
	registerRetry = time.Second
)

// registerRule is how the chat registers with its relays (--relay). With
// one relay: a registration may wait a whole refresh for its answer, is
// tried again a second after one goes unanswered, and is refreshed as often
// as the relay asks. With several: one is in use at a time, the first that
// answers; a registration goes every relayCheck, and one unanswered for
// relayDead moves the chat on to the next in the list (after the last, the
// first), which it registers with a second later. So a dead relay is left
// within relayCheck+relayDead, and lookups, relayed datagrams and mail go
// through the next from then on. The chat stays with a relay that answers:
// it does not go back to an earlier one in the list that comes back.
type registerRule struct {
	// several is whether there are relays to move on to.
	several bool
}

func newRegisterRule(relays int) registerRule { return registerRule{several: relays > 1} }

// timeout is how long a registration may wait for its answer, with a relay
// that asks for a refresh every refresh.
func (g registerRule) timeout(refresh time.Duration) time.Duration {
	if g.several {
		return min(relayDead, refresh)
	}
	return refresh
}

// wait is how long after an answered registration the next goes.
func (g registerRule) wait(refresh time.Duration) time.Duration {
	if g.several {
		return min(relayCheck, refresh)
	}
	return refresh
}

// moveOn says whether a registration gone unanswered puts the next relay in
// use; the next registration goes registerRetry later either way.
func (g registerRule) moveOn() bool { return g.several }
