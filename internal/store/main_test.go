package store

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The tests re-execute this binary as a child process (a second
	// udpchat holding the lock, one killed mid-write, one without
	// permission); such a run is the child, not the tests.
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role))
	}
	goleak.VerifyTestMain(m)
}
