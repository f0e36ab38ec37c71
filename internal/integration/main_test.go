package integration_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: a secure Conn has none of its
// own, a transport's stop when it closes, and so do the tests' readers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
