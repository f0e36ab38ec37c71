package chat

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/files"
	"github.com/udpchat/udpchat/internal/files/transfer"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/wire"
)

// Files: a person sends a file to another over their session. The transfer
// engine (internal/files/transfer) does the work; the node routes the file
// payloads (wire.IsFileKind) of a peer to it, carries what it sends on the
// link, and turns what it reports into the File* events below, so that the
// UIs see only the chat.

// FileConfig says whether and where the node takes files.
type FileConfig struct {
	// Dir is the downloads dir; "" declines every file offered.
	Dir string
	// MaxSize is the largest file accepted, in bytes (0: 4 GiB).
	MaxSize uint64
	// AutoAccept takes every file offered (under MaxSize) without asking.
	AutoAccept bool
}

// FileID names a transfer on both sides, across restarts.
type FileID [wire.FileIDLen]byte

// String is the ID in hex, as UIs show it.
func (id FileID) String() string { return hex.EncodeToString(id[:]) }

// FileTransfer describes a transfer in an event.
type FileTransfer struct {
	ID       FileID
	Peer     netip.AddrPort
	PeerName string
	// Incoming says it is offered to us; else we offered it.
	Incoming bool
	// Name is the file's name: ours, or (incoming) the one it lands under,
	// made safe, before any " (k)" that keeps it from overwriting another.
	Name string
	Size uint64
	// Root is the content hash offered (docs/PROTOCOL.md F2).
	Root [32]byte
}

// FileOffer says a peer offers us a file: AcceptFile or DeclineFile. One
// we took before a restart (Resumed) goes on by itself.
type FileOffer struct {
	FileTransfer
	Resumed bool
}

// FileProgress says how far a transfer is: Bytes of Size, at Rate bytes a
// second, Left to go (0: not known yet).
type FileProgress struct {
	FileTransfer
	Bytes uint64
	Rate  float64
	Left  time.Duration
}

// FileDone says the receiver verified the whole file. Path is where it
// landed (incoming only). Blocks counts those moved in this run, Resumed
// those the receiver had when this run took the transfer up.
type FileDone struct {
	FileTransfer
	Path            string
	Blocks, Resumed uint64
	DuplicateBlocks uint64
}

// FileFailed says a transfer ended without the file: declined, cancelled,
// too big, a changed source, a bad block, a disk error.
type FileFailed struct {
	FileTransfer
	// Declined says the receiver declined the offer (Err says why).
	Declined bool
	Err      error
}

func (FileOffer) isEvent()    {}
func (FileProgress) isEvent() {}
func (FileDone) isEvent()     {}
func (FileFailed) isEvent()   {}

// ErrNoFiles is what the file calls return on a node that cannot carry
// files: the plain link.
var ErrNoFiles = errors.New("files need the reliable, encrypted link, not --plain")

// newFiles starts the node's transfer engine.
func (n *Node) newFiles(cfg FileConfig) *transfer.Engine {
	return transfer.New(transfer.Config{
		Dir:        cfg.Dir,
		MaxSize:    cfg.MaxSize,
		AutoAccept: cfg.AutoAccept,
		Logger:     n.log,
		Send: func(peer netip.AddrPort, payload []byte) error {
			return n.sendFilePayload(peer, payload, false)
		},
		// Blocks yield to chat: a line typed during a transfer overtakes
		// the blocks queued that have not begun to go.
		SendBlock: func(peer netip.AddrPort, payload []byte) error {
			return n.sendFilePayload(peer, payload, true)
		},
		Emit: n.fileEvents,
	})
}

// sendFilePayload carries a file payload on the link, bulk (see
// link.BulkSender) if the link can.
func (n *Node) sendFilePayload(peer netip.AddrPort, payload []byte, bulk bool) error {
	n.mu.Lock()
	l, closed := n.link, n.closed
	n.mu.Unlock()
	if closed || l == nil {
		return ErrClosed
	}
	var err error
	if b, ok := l.(link.BulkSender); ok && bulk {
		_, err = b.SendBulk(peer, payload)
	} else {
		_, err = l.Send(peer, payload)
	}
	return err
}

// fileEvents turns the engine's events into the node's, in order with
// every other change's.
func (n *Node) fileEvents(evs []transfer.Event) {
	n.recordTransfers(evs)
	n.update(func() []Event {
		out := make([]Event, 0, len(evs))
		for _, ev := range evs {
			if ev, ok := n.fileEventLocked(ev); ok {
				out = append(out, ev)
			}
		}
		return out
	})
}

// fileEventLocked is the node's event for ev; none for our own offer
// (Offering), which SendFile's caller knows of.
func (n *Node) fileEventLocked(ev transfer.Event) (Event, bool) {
	describe := func(i transfer.Info) FileTransfer {
		ft := FileTransfer{ID: FileID(i.ID), Peer: i.Peer, Incoming: i.Incoming, Name: i.Name, Size: i.Size, Root: i.Root}
		if p := n.peers[i.Peer]; p != nil {
			ft.PeerName = p.displayName()
		}
		return ft
	}
	switch ev := ev.(type) {
	case transfer.Offering:
		return nil, false
	case transfer.Offered:
		return FileOffer{FileTransfer: describe(ev.Info), Resumed: ev.Resumed}, true
	case transfer.Progress:
		return FileProgress{FileTransfer: describe(ev.Info), Bytes: ev.Bytes, Rate: ev.Rate, Left: ev.Left}, true
	case transfer.Done:
		return FileDone{FileTransfer: describe(ev.Info), Path: ev.Path, Blocks: ev.Fetched, Resumed: ev.Resumed, DuplicateBlocks: ev.Duplicates}, true
	case transfer.Failed:
		declined := !ev.Info.Incoming && !ev.Info.Accepted
		return FileFailed{FileTransfer: describe(ev.Info), Declined: declined, Err: ev.Err}, true
	}
	return Error{Err: fmt.Errorf("unknown file event %T", ev)}, true
}

// SendFile offers the file at path to peer, which must be in session with
// us (it joined). The file is hashed first, which for a large file takes a
// while: call it from another goroutine than the one reading Events. What
// follows comes as events: FileProgress, then FileDone or FileFailed.
func (n *Node) SendFile(peer netip.AddrPort, path string) (FileTransfer, error) {
	return n.sendFile(peer, func(e *transfer.Engine, to [32]byte) (transfer.Info, error) {
		return e.Offer(peer, to, path)
	})
}

// SendSource is SendFile of a file hashed already (files.OpenSource),
// which the transfer closes when it ends, or at once if it cannot begin:
// one file offered to several people is hashed once (Source.Share).
func (n *Node) SendSource(peer netip.AddrPort, src *files.Source) (FileTransfer, error) {
	ft, err := n.sendFile(peer, func(e *transfer.Engine, to [32]byte) (transfer.Info, error) {
		return e.OfferSource(peer, to, src)
	})
	if errors.Is(err, ErrNoFiles) || errors.Is(err, errNotJoined) {
		src.Close()
	}
	return ft, err
}

var errNotJoined = errors.New("not in the conversation (yet)")

func (n *Node) sendFile(peer netip.AddrPort, offer func(e *transfer.Engine, to [32]byte) (transfer.Info, error)) (FileTransfer, error) {
	if n.files == nil {
		return FileTransfer{}, ErrNoFiles
	}
	peer = Unmap(peer)
	n.mu.Lock()
	p := n.peers[peer]
	var name string
	joined := p != nil && p.joined
	if joined {
		name = p.displayName()
	}
	n.mu.Unlock()
	if !joined {
		return FileTransfer{}, fmt.Errorf("send a file to %s: %w", peer, errNotJoined)
	}
	info, err := offer(n.files, n.personAt(peer))
	if err != nil {
		n.failedOffer(info, err)
		return FileTransfer{}, err
	}
	return FileTransfer{ID: FileID(info.ID), Peer: peer, PeerName: name, Name: info.Name, Size: info.Size, Root: info.Root}, nil
}

// AcceptFile takes a file offered to us (FileOffer) into the downloads dir.
func (n *Node) AcceptFile(id FileID) error {
	return n.fileCall(func(e *transfer.Engine) error { return e.Accept(transfer.ID(id)) })
}

// DeclineFile refuses a file offered to us; the sender hears so.
func (n *Node) DeclineFile(id FileID) error {
	return n.fileCall(func(e *transfer.Engine) error { return e.Decline(transfer.ID(id)) })
}

// CancelFile stops a transfer, ours or theirs; the other side hears so.
func (n *Node) CancelFile(id FileID) error {
	return n.fileCall(func(e *transfer.Engine) error { return e.Cancel(transfer.ID(id)) })
}

func (n *Node) fileCall(f func(*transfer.Engine) error) error {
	if n.files == nil {
		return ErrNoFiles
	}
	return f(n.files)
}

// FindFile finds a transfer under way by its ID or a prefix of it in hex,
// as the UIs show it; "" finds the only one waiting for an answer.
func (n *Node) FindFile(s string) (FileID, error) {
	if n.files == nil {
		return FileID{}, ErrNoFiles
	}
	var ids, waiting []transfer.ID
	for _, t := range n.files.Transfers() {
		ids = append(ids, t.ID)
		if t.Incoming && !t.Accepted {
			waiting = append(waiting, t.ID)
		}
	}
	if s == "" {
		if len(waiting) != 1 {
			return FileID{}, fmt.Errorf("%d files wait for an answer: name one by its ID", len(waiting))
		}
		return FileID(waiting[0]), nil
	}
	id, err := transfer.ParseID(s, ids)
	return FileID(id), err
}

// receiveFile hands a file payload to the engine: only from a peer that
// introduced itself in this session, so that every offer has a sender the
// person can name.
func (n *Node) receiveFile(from netip.AddrPort, msg []byte) {
	if n.files == nil || !n.arrival(from).joined {
		n.stats.undecodable.Add(1)
		n.log.Debug("dropped a file message from a peer not in the conversation", "peer", from)
		return
	}
	if err := n.files.Receive(from, msg); errors.Is(err, wire.ErrTruncated) || errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrType) {
		n.stats.undecodable.Add(1)
	}
}
