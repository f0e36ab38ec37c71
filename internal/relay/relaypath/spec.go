package relaypath

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
)

// File, in the data dir, remembers the relays as --relay takes them:
// KEY@HOST:PORT, or several separated by commas.
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

// ParseList parses --relay: one relay or several, each [KEY@]HOST[:PORT],
// separated by commas, in the order they are to be tried.
func ParseList(s string) ([]Spec, error) {
	var specs []Spec
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, usagef("--relay %q: an empty relay in the list", s)
		}
		spec, err := ParseSpec(part)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(specs, func(o Spec) bool { return o.Host == spec.Host }) {
			return nil, usagef("--relay %q: %s is named twice", s, spec.Host)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// listString is specs as --relay takes them.
func listString(specs []Spec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// Choose is the relays to use, in order: given (and then remembered) or
// those remembered in dataDir, each with its key pinned if it was learned
// before; none for none.
func Choose(given, dataDir string) ([]Spec, error) {
	saved := remembered(dataDir)
	if given == "" {
		return saved, nil
	}
	specs, err := ParseList(given)
	if err != nil {
		return nil, err
	}
	for i, spec := range specs {
		if j := slices.IndexFunc(saved, func(o Spec) bool { return o.Host == spec.Host }); spec.Key.IsZero() && j >= 0 {
			specs[i].Key = saved[j].Key // pinned on first use, like a peer's
		}
	}
	return specs, Save(dataDir, specs)
}

// remembered is the relays remembered in dataDir; none for none (or a
// damaged file: the next --relay starts afresh).
func remembered(dataDir string) []Spec {
	b, err := os.ReadFile(filepath.Join(dataDir, File))
	if err != nil {
		return nil
	}
	specs, err := ParseList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	return specs
}

// Save remembers specs in dataDir, as --relay would give them.
func Save(dataDir string, specs []Spec) error {
	if err := os.WriteFile(filepath.Join(dataDir, File), []byte(listString(specs)+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot remember the relay: %v", err)
	}
	return nil
}
