package relaypath

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
)

// File, in the data dir, remembers the relay: KEY@HOST:PORT.
const File = "relay"

// handlePrefix is RFC 6666's discard-only prefix, 100::/64.
var handlePrefix = netip.MustParsePrefix("100::/64")

// Handle is the handle of the person holding key, reached through the
// relay.
func Handle(key keys.PublicKey) netip.AddrPort {
	var a [16]byte
	a[0] = 0x01
	copy(a[8:], key[:8])
	return netip.AddrPortFrom(netip.AddrFrom16(a), relay.DefaultPort)
}

// IsHandle says whether addr is a Handle.
func IsHandle(addr netip.AddrPort) bool { return handlePrefix.Contains(addr.Addr()) }

// UsageError is a mistake in the relay as the user gave it (--relay): the
// caller reports it as a mistake in the command line.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Spec is --relay: the relay's address as given, and its key if given
// (KEY@HOST:PORT) or remembered.
type Spec struct {
	Host string
	Key  keys.PublicKey // zero: learned on first use
}

// ParseSpec parses [KEY@]HOST[:PORT].
func ParseSpec(s string) (Spec, error) {
	var spec Spec
	if k, host, ok := strings.Cut(s, "@"); ok {
		if err := spec.Key.UnmarshalText([]byte(k)); err != nil {
			return spec, usagef("--relay %q: the part before @ is not a relay's key (udpchat relay id prints it): %v", s, err)
		}
		s = host
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		s = net.JoinHostPort(strings.Trim(s, "[]"), fmt.Sprint(relay.DefaultPort))
	}
	spec.Host = s
	return spec, nil
}

func (s Spec) String() string {
	if s.Key.IsZero() {
		return s.Host
	}
	k, _ := s.Key.MarshalText()
	return string(k) + "@" + s.Host
}

// Choose is the relay to use: given (and then remembered) or the one
// remembered in dataDir, whose key is pinned if it was learned before; ok
// is false for none.
func Choose(given, dataDir string) (spec Spec, ok bool, err error) {
	saved, _ := remembered(dataDir)
	if given == "" {
		return saved, saved.Host != "", nil
	}
	if spec, err = ParseSpec(given); err != nil {
		return spec, false, err
	}
	if spec.Key.IsZero() && spec.Host == saved.Host {
		spec.Key = saved.Key // pinned on first use, like a peer's
	}
	return spec, true, Save(dataDir, spec)
}

// remembered is the relay remembered in dataDir; ok is false for none (or
// a damaged file: the next --relay starts afresh).
func remembered(dataDir string) (spec Spec, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, File))
	if err != nil {
		return spec, false
	}
	spec, err = ParseSpec(strings.TrimSpace(string(b)))
	if err != nil {
		return Spec{}, false
	}
	return spec, spec.Host != ""
}

// Save remembers spec in dataDir.
func Save(dataDir string, spec Spec) error {
	if err := os.WriteFile(filepath.Join(dataDir, File), []byte(spec.String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot remember the relay: %v", err)
	}
	return nil
}
