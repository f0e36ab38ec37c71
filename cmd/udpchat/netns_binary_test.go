//go:build linux

package main

import (
	"context"
	"testing"
)

// netnsUdpchatBinary is the udpchat binary for the namespace test: the one
// TestMain (main_test.go) built for every test in the package.
func netnsUdpchatBinary(ctx context.Context, t *testing.T) string {
	t.Helper()
	return udpchatBinary
}
