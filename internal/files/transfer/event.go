package transfer

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/files"
	"github.com/udpchat/udpchat/internal/wire"
)

// Event is something a transfer did that the person hears of.
type Event interface{ isEvent() }

// Info describes one transfer.
type Info struct {
	ID       ID
	Peer     netip.AddrPort
	Incoming bool   // offered to us
	Name     string // incoming: the sanitized name it lands under (before any " (k)")
	Size     uint64
	Root     [32]byte // the content hash offered
	Accepted bool
}

// Offered says a peer offers us a file. Resumed says it is one we had
// accepted before (we or the sender restarted): it goes on by itself.
type Offered struct {
	Info
	Resumed bool
}

// Offering says we offer a peer a file: emitted before the offer goes, so
// that whoever records transfers has it before any answer can come.
type Offering struct {
	Info
}

// Progress says how far a transfer is: Bytes of Size, at Rate bytes a
// second (over the last seconds), Left to go at that rate (0: unknown).
type Progress struct {
	Info
	Bytes uint64
	Rate  float64
	Left  time.Duration
}

// Done says a transfer is complete: the receiver verified the whole file.
// Path is where it landed (receiver only). Fetched counts the blocks moved
// this run (received and written, or sent), Resumed the blocks the
// receiver had already when this run took the transfer up, Duplicates the
// blocks that came twice.
type Done struct {
	Info
	Path       string
	Fetched    uint64
	Resumed    uint64
	Duplicates uint64
}

// Failed says a transfer ended without the file: declined, cancelled, a
// bad block, a changed source, a local error. Reason is what the wire says.
type Failed struct {
	Info
	Reason wire.FileCancelReason
	Err    error
}

func (Offered) isEvent()  {}
func (Offering) isEvent() {}
func (Progress) isEvent() {}
func (Done) isEvent()     {}
func (Failed) isEvent()   {}

// reasonText is a cancel reason in words.
func reasonText(r wire.FileCancelReason) string {
	switch r {
	case wire.FileReasonUser:
		return "by the person"
	case wire.FileReasonTooBig:
		return "over the receiver's size limit"
	case wire.FileReasonSourceChanged:
		return "the file changed since it was offered"
	case wire.FileReasonBadBlock:
		return "a block did not match the offer"
	case wire.FileReasonLocalError:
		return "a local (disk) error"
	}
	return "no reason given"
}

// ParseID reads a transfer ID as the events print it (hex), or a unique
// prefix of one of ids.
func ParseID(s string, ids []ID) (ID, error) {
	var found []ID
	for _, id := range ids {
		if len(s) > 0 && len(s) <= 2*len(id) && fmt.Sprintf("%x", id[:])[:len(s)] == s {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ID{}, fmt.Errorf("%w: %q", ErrUnknown, s)
	}
	return ID{}, fmt.Errorf("%q names %d file transfers: give more of the ID", s, len(found))
}

func (t *outgoing) info() Info {
	return Info{ID: t.offer.ID, Peer: t.peer, Name: t.offer.Name, Size: t.offer.Size, Root: t.offer.Root, Accepted: t.accepted}
}

func (t *outgoing) failed(r wire.FileCancelReason, err error) Event {
	return Failed{Info: t.info(), Reason: r, Err: err}
}

// progress is the sender's progress: blocks sent (the receiver's done is
// what counts; this is what the path took so far).
func (t *outgoing) progress(now time.Time, final bool) (Event, bool) {
	bytes := min(t.sent<<t.offer.BlockShift, t.offer.Size)
	if final {
		bytes = t.offer.Size
	}
	return t.meter.progress(now, final, t.info(), bytes)
}

func (t *incoming) info() Info {
	name := files.SanitizeName(t.offer.Name)
	if t.r != nil {
		name = t.r.Name()
	}
	return Info{ID: t.offer.ID, Peer: t.peer, Incoming: true, Name: name, Size: t.offer.Size, Root: t.offer.Root, Accepted: t.r != nil}
}

func (t *incoming) offered(resumed bool) Event { return Offered{Info: t.info(), Resumed: resumed} }

func (t *incoming) failed(r wire.FileCancelReason, err error) Event {
	return Failed{Info: t.info(), Reason: r, Err: err}
}

func (t *incoming) progress(now time.Time, final bool) (Event, bool) {
	bytes := t.offer.Size
	if !final {
		bytes = min(t.r.Have()<<t.offer.BlockShift, t.offer.Size)
	}
	return t.meter.progress(now, final, t.info(), bytes)
}

// meter turns bytes over time into a rate, and says when a progress event
// is due: at most every progressEvery, and at the end.
type meter struct {
	last      time.Time // of the last event
	lastBytes uint64
	rate      float64 // bytes a second, smoothed
}

func (m *meter) progress(now time.Time, final bool, info Info, bytes uint64) (Event, bool) {
	if m.last.IsZero() {
		m.last, m.lastBytes = now, bytes
		if !final {
			return nil, false
		}
	}
	dt := now.Sub(m.last)
	if dt < progressEvery && !final {
		return nil, false
	}
	if dt > 0 && bytes >= m.lastBytes {
		r := float64(bytes-m.lastBytes) / dt.Seconds()
		if m.rate == 0 {
			m.rate = r
		} else {
			m.rate = 0.7*m.rate + 0.3*r
		}
	}
	m.last, m.lastBytes = now, bytes
	var left time.Duration
	if m.rate > 0 && bytes < info.Size {
		left = time.Duration(float64(info.Size-bytes) / m.rate * float64(time.Second))
	}
	return Progress{Info: info, Bytes: bytes, Rate: m.rate, Left: left}, true
}
