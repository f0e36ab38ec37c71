package udptest

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test in the package must leave no goroutine behind: Close is the
// stop path for everything here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
