package rooms

import (
	"testing"

	"go.uber.org/goleak"
)

// The core has no goroutines of its own; the tests must leave none either.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
