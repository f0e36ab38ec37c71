package secure_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test must leave no goroutine behind: the Conn has none of its own,
// and the tests' readers stop when their Conn closes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
