package relaypath

import (
	"testing"
	"time"
)

// TestRegisterRule: with one relay, registration is as it always was — a
// registration may wait a whole refresh, one unanswered is tried again a
// second later at the same relay, and an answered one is refreshed as the
// relay asks; with several, the relay in use is asked every relayCheck and
// left for the next after relayDead unanswered, so a dead relay is left
// within seconds, not a refresh; a relay asking for a refresh sooner than
// that is asked as often as it wants.
func TestRegisterRule(t *testing.T) {
	const refresh = 25 * time.Second
	one, several := newRegisterRule(1), newRegisterRule(2)
	if one.timeout(refresh) != refresh || one.wait(refresh) != refresh || one.moveOn() {
		t.Errorf("one relay: timeout %v, wait %v, move on %v; want a refresh, a refresh, no", one.timeout(refresh), one.wait(refresh), one.moveOn())
	}
	if !several.moveOn() {
		t.Error("several relays: an unanswered registration does not move on to the next")
	}
	if left := several.wait(refresh) + several.timeout(refresh) + registerRetry; left > 10*time.Second {
		t.Errorf("several relays: a dead one is left only after %v (check %v, timeout %v)", left, several.wait(refresh), several.timeout(refresh))
	}
	if several.wait(time.Second) != time.Second || several.timeout(time.Second) != time.Second {
		t.Errorf("several relays, one asking for a refresh every second: wait %v, timeout %v", several.wait(time.Second), several.timeout(time.Second))
	}
}
