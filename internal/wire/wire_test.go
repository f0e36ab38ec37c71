package wire

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Helpers shared by the tests of this package.

// mustHex decodes a hex string that may contain spaces (to separate fields
// the way the layout comments do).
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// sentinels are the errors every parser in this package must wrap.
var sentinels = []error{ErrTruncated, ErrVersion, ErrType, ErrMalformed, ErrTooBig}

// checkSentinel fails t unless err wraps one of the package's parse errors,
// which is what lets a receiver count drops by reason.
func checkSentinel(t testing.TB, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %q wraps none of the wire sentinels", err)
}

// ackEqual compares the meaningful parts of two ACK frames: the ranges past
// NumRanges are leftovers and mean nothing.
func ackEqual(a, b *AckFrame) bool {
	if a.DelayMicros != b.DelayMicros || a.Delivered != b.Delivered || a.NumRanges != b.NumRanges {
		return false
	}
	return slices.Equal(a.Ranges[:a.NumRanges], b.Ranges[:b.NumRanges])
}

// ackString shows an ACK frame without its unused ranges.
func ackString(a *AckFrame) string {
	return fmt.Sprintf("{Delay:%d Delivered:%d Ranges:%v}", a.DelayMicros, a.Delivered, a.Ranges[:a.NumRanges])
}
