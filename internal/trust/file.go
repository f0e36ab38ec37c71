package trust

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/safefile"
)

const header = "# udpchat known peers, one a line: ADDRESS \"NAME\" FINGERPRINT [KEY]; - for none.\n" +
	"# A fingerprint's further lines (- \"NAME\" FINGERPRINT) are names it used before, still its own.\n" +
	"# udpchat adds peers here the first time they join. To accept a peer's new key: udpchat trust PEER FINGERPRINT\n"

// The file's bounds: far above what udpchat writes (a line is about 150
// bytes), and checked, so that a damaged file is reported, never read in
// part as if the rest were not there.
const (
	maxLine = 64 << 10
	maxFile = 64 << 20
)

// table is one reading of the file, indexed. It is never changed once
// built: an update builds a new one.
type table struct {
	entries []Entry
	byFP    map[string]int
	byKey   map[keys.PublicKey]int // entries whose key is known
	byAddr  map[netip.AddrPort]int
	byName  map[string]int // names and aliases
}

// newTable indexes entries; where a hand-edited file binds an address or a
// name twice, the first line wins.
func newTable(entries []Entry) *table {
	t := &table{
		entries: entries,
		byFP:    make(map[string]int, len(entries)),
		byKey:   make(map[keys.PublicKey]int, len(entries)),
		byAddr:  make(map[netip.AddrPort]int, len(entries)),
		byName:  make(map[string]int, len(entries)),
	}
	for i, e := range entries {
		t.byFP[e.Fingerprint] = i
		if !e.Key.IsZero() {
			t.byKey[e.Key] = i
		}
		if e.Addr.IsValid() {
			if _, ok := t.byAddr[e.Addr]; !ok {
				t.byAddr[e.Addr] = i
			}
		}
		for _, n := range e.names() {
			if _, ok := t.byName[n]; !ok {
				t.byName[n] = i
			}
		}
	}
	return t
}

// clone returns a copy of the entries that the caller may change.
func (t *table) clone() []Entry {
	entries := slices.Clone(t.entries)
	for i := range entries {
		entries[i].Aliases = slices.Clone(entries[i].Aliases)
	}
	return entries
}

// check is trust on first use's verdict on the key fp at addr using name
// ("": no name to check): a known key may speak from anywhere; a new key
// not from an address bound to another; and no key may use another's name.
func (t *table) check(addr netip.AddrPort, fp, name string) error {
	if name != "" {
		if j, ok := t.byName[name]; ok && t.entries[j].Fingerprint != fp {
			return &KeyChangedError{Peer: name, Known: t.entries[j].Fingerprint, Presented: fp}
		}
	}
	if _, known := t.byFP[fp]; known {
		return nil
	}
	if j, ok := t.byAddr[addr]; ok {
		return &KeyChangedError{Peer: addr.String(), Name: t.entries[j].Name, Known: t.entries[j].Fingerprint, Presented: fp}
	}
	return nil
}

// fingerprint is key's fingerprint, from the entry that has key if there
// is one: hashing the key (BLAKE2s, then base32) was most of what checking
// a known peer's message cost. An entry's key and fingerprint always match
// (parseEntry checks a file's, Admit writes both from the key).
func (t *table) fingerprint(key keys.PublicKey) string {
	if i, ok := t.byKey[key]; ok {
		return t.entries[i].Fingerprint
	}
	return key.Fingerprint()
}

// upToDate says the table already has key at addr (or addr is another's)
// under name: Admit has nothing to write.
func (t *table) upToDate(addr netip.AddrPort, key keys.PublicKey, fp, name string) bool {
	i, ok := t.byFP[fp]
	if !ok {
		return false
	}
	e := &t.entries[i]
	j, taken := t.byAddr[addr]
	return e.Key == key && e.Name == name && (e.Addr == addr || taken && j != i)
}

// refreshLocked reads the file again if it is not the one last read (its
// inode, size or modification time changed). s.mu must be held.
func (s *KnownPeers) refreshLocked() {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		fi, err = nil, nil
	}
	if err != nil {
		s.bad = fmt.Errorf("cannot read the known peers: %w; fix it, and udpchat trusts no new key until then", err)
		return
	}
	if s.read && sameFile(fi, s.seen) {
		return
	}
	s.seen, s.read = fi, true
	if s.tab == nil {
		s.tab = newTable(nil)
	}
	if fi == nil {
		s.tab, s.bad = newTable(nil), nil
		return
	}
	entries, stamp, err := readFile(s.path)
	if err != nil {
		s.bad = err
		return
	}
	s.tab, s.seen, s.bad = newTable(entries), stamp, nil
}

// sameFile says a and b (either may be nil: no file) are the same file,
// unchanged as far as a stat can tell.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readFile parses the file, returning its entries and the stat of the
// file they were read from. Every line must parse: a line that does not is
// an error naming it, not a line skipped, since skipping could forget the
// key of a peer and let an impostor take its place.
func readFile(path string) ([]Entry, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the known peers: %w; fix it, and udpchat trusts no new key until then", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && fi.Size() > maxFile {
		err = fmt.Errorf("it is larger than %d MiB", maxFile>>20)
	}
	var b []byte
	if err == nil {
		b, err = io.ReadAll(io.LimitReader(f, maxFile+1))
	}
	if err == nil && len(b) > maxFile {
		err = fmt.Errorf("it is larger than %d MiB", maxFile>>20)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the known peers in %s: %v; fix it, and udpchat trusts no new key until then", path, err)
	}
	var entries []Entry
	index := make(map[string]int)
	n := 0
	for line := range bytes.Lines(b) {
		n++
		if len(line) > maxLine {
			return nil, nil, fmt.Errorf("%s line %d is longer than %d KiB: fix or delete that line (udpchat trusts no new key until then, and will ask again about that peer's key)",
				path, n, maxLine>>10)
		}
		text := strings.TrimSpace(string(line))
		if text == "" || text[0] == '#' {
			continue
		}
		e, err := parseEntry(text)
		if err != nil {
			return nil, nil, fmt.Errorf("%s line %d: %v: fix or delete that line (udpchat trusts no new key until then, and will ask again about that peer's key)",
				path, n, err)
		}
		i, seen := index[e.Fingerprint]
		if !seen {
			index[e.Fingerprint] = len(entries)
			entries = append(entries, e)
			continue
		}
		// A further line of a fingerprint: a name it used before.
		first := &entries[i]
		if !first.Addr.IsValid() {
			first.Addr = e.Addr
		}
		if first.Key.IsZero() {
			first.Key = e.Key
		}
		if e.Name != "" {
			first.addName(e.Name)
		}
	}
	return entries, fi, nil
}

func parseEntry(line string) (Entry, error) {
	var e Entry
	addr, rest, _ := strings.Cut(line, " ")
	if addr != "-" {
		a, err := netip.ParseAddrPort(addr)
		if err != nil {
			return e, fmt.Errorf("bad address %q", addr)
		}
		e.Addr = a
	}
	rest = strings.TrimLeft(rest, " ")
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return e, errors.New("the name must be in double quotes")
	}
	e.Name, _ = strconv.Unquote(quoted)
	fields := strings.Fields(rest[len(quoted):])
	if len(fields) < 1 || len(fields) > 2 {
		return e, errors.New("want a fingerprint, then optionally a key")
	}
	if e.Fingerprint, err = keys.ParseFingerprint(fields[0]); err != nil {
		return e, err
	}
	if len(fields) == 2 {
		if err := e.Key.UnmarshalText([]byte(fields[1])); err != nil {
			return e, fmt.Errorf("bad key: %v", err)
		}
		if e.Key.Fingerprint() != e.Fingerprint {
			return e, errors.New("the key does not match the fingerprint")
		}
	}
	return e, nil
}

// format is the file's text for entries: a line each, and a line for each
// earlier name (which an older udpchat reads as a name bound to the key,
// as it is).
func format(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, e := range entries {
		addr := "-"
		if e.Addr.IsValid() {
			addr = e.Addr.String()
		}
		fmt.Fprintf(&b, "%s %s %s", addr, strconv.Quote(e.Name), e.Fingerprint)
		if !e.Key.IsZero() {
			k, _ := e.Key.MarshalText()
			fmt.Fprintf(&b, " %s", k)
		}
		b.WriteByte('\n')
		for _, a := range e.Aliases {
			fmt.Fprintf(&b, "- %s %s\n", strconv.Quote(a), e.Fingerprint)
		}
	}
	return b.Bytes()
}

// writeFile replaces the file whole (see safefile.Replace): a crash leaves
// the old file or the new one, never half of one.
func writeFile(path string, entries []Entry) error {
	if err := safefile.Replace(path, format(entries), 0o600); err != nil {
		return fmt.Errorf("cannot save the known peers in %s: %w", path, err)
	}
	return nil
}
