package relaycluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

// entry is a registration in the registry: the relay the key registered at
// and its candidates there.
type entry struct {
	relay      string
	candidates []netip.AddrPort
	// since is when the key registered, by the clock of the relay it
	// registered at (to the millisecond): of two relays' entries for a key
	// the later one holds it, whichever reached the bucket last.
	since time.Time
	// at is when this relay learned of it, by its own clock, from which
	// the entry lives a TTL; it is not in the value.
	at time.Time
}

// entryJSON is an entry's value in the bucket: JSON, so that an operator
// reading the bucket (nats kv get) sees what it holds.
type entryJSON struct {
	Relay      string           `json:"relay"`
	Candidates []netip.AddrPort `json:"candidates"`
	Since      int64            `json:"since"` // Unix milliseconds
}

// maxRelayID bounds a relay's id in an entry (Join makes 16 hex digits).
const maxRelayID = 64

func encodeEntry(e entry) ([]byte, error) {
	if err := checkEntry(e); err != nil {
		return nil, err
	}
	return json.Marshal(entryJSON{Relay: e.relay, Candidates: e.candidates, Since: e.since.UnixMilli()})
}

// decodeEntry parses a registry value, which any client of the NATS
// cluster could have written: anything but a relay id and a valid list of
// candidates, as a relay's candidates message would carry them, is an
// error.
func decodeEntry(b []byte) (entry, error) {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return entry{}, fmt.Errorf("relaycluster: registry entry: %w", err)
	}
	e := entry{relay: j.Relay, candidates: j.Candidates, since: time.UnixMilli(j.Since)}
	return e, checkEntry(e)
}

func checkEntry(e entry) error {
	if e.since.UnixMilli() <= 0 {
		return fmt.Errorf("relaycluster: registry entry: registered at %d ms", e.since.UnixMilli())
	}
	if e.relay == "" || len(e.relay) > maxRelayID {
		return fmt.Errorf("relaycluster: registry entry: relay id of %d bytes", len(e.relay))
	}
	for _, r := range e.relay {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return fmt.Errorf("relaycluster: registry entry: relay id %q", e.relay)
		}
	}
	// The candidates must be what a candidates message carries.
	if _, err := wire.AppendRelay(nil, wire.RelayMessage{Type: wire.TypeRelayCallMeMaybe, Key: [32]byte{1}, Addrs: e.candidates}); err != nil {
		return fmt.Errorf("relaycluster: registry entry: candidates: %w", err)
	}
	return nil
}
