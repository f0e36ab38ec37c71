package roomchat

import (
	"fmt"
	"slices"

	"github.com/dustin/go-humanize"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/files"
	"github.com/udpchat/udpchat/internal/files/transfer"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/wire"
)

// Files to a room (docs/PROTOCOL.md F7): the file goes to each other member
// as a 1:1 transfer over their pairwise session; the bridge only says whom,
// and when: every member at once if connected, else when it connects, and
// never again once it is out of the room. A note in the room (a message
// whose content is wire.RoomNoteFile) tells every member, and those who
// join later, that the file was shared; a member that sees it and has no
// offer asks the sender for one (a want).

// sharedFile is a file this user sent to a room while this node runs.
type sharedFile struct {
	room rooms.RoomID
	// src is the file, hashed once and shared by every member's transfer;
	// the bridge holds it open until it closes.
	src  *files.Source
	root [wire.FileHashLen]byte
	// to are the members offered it, by their transfer's ID (zero while
	// the offer is being made): each is offered it once.
	to map[keys.PublicKey]chat.FileID
}

// SendFile offers the file at path to every other member of room.
func (b *Bridge) SendFile(room, path string) (chat.RoomFileOffer, error) {
	id, err := b.room(room)
	if err != nil {
		return chat.RoomFileOffer{}, err
	}
	src, err := files.OpenSource(path, wire.DefaultFileBlockShift)
	if err != nil {
		return chat.RoomFileOffer{}, err
	}
	note := src.Offer([wire.FileIDLen]byte{})
	f := &sharedFile{room: id, src: src, root: note.Root, to: make(map[keys.PublicKey]chat.FileID)}
	b.mu.Lock()
	if !b.core.In(id) || b.core.Leaving(id) {
		b.mu.Unlock()
		src.Close()
		return chat.RoomFileOffer{}, fmt.Errorf("you are no longer in #%s", room)
	}
	var members []keys.PublicKey
	for _, k := range b.core.Members(id) {
		if b.claimLocked(f, k) {
			members = append(members, k)
		}
	}
	b.mu.Unlock()
	out := chat.RoomFileOffer{Room: chat.RoomID(id), RoomName: room}
	for _, k := range members {
		ft, connected, err := b.offer(f, k)
		switch {
		case err != nil && len(out.Offered) == 0:
			// The file itself is at fault (changed since hashed): no one gets it.
			src.Close()
			return out, err
		case err != nil:
			b.log.Debug("room file not offered", "to", k.Fingerprint(), "err", err)
			out.Later = append(out.Later, b.name(k))
		case !connected:
			out.Later = append(out.Later, b.name(k))
		default:
			out.Offered = append(out.Offered, ft)
		}
	}
	b.mu.Lock()
	b.shared = append(b.shared, f)
	b.mu.Unlock()
	// The note goes after the offers, so that a member connected now has
	// its offer when the note comes, and does not ask for it.
	text, err := wire.AppendRoomFileNote(nil, note)
	if err == nil {
		b.do(func() { _, err = b.core.Send(id, text) })
	}
	if err != nil {
		b.log.Debug("room file note not sent", "room", room, "err", err)
	}
	return out, nil
}

// closeShared lets go of the files shared this run: their transfers under
// way hold them open until they end.
func (b *Bridge) closeShared() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.shared {
		f.src.Close()
	}
	b.shared = nil
}

// MessageText is how a UI shows a room message's text: as it is, or, for a
// note (text starting with NUL), what it says: a file shared, or that this
// udpchat does not know the note.
func MessageText(text []byte) string {
	if !wire.IsRoomNote(text) {
		return string(text)
	}
	o, err := wire.ParseRoomFileNote(text)
	if err != nil {
		return "(a note this udpchat cannot show)"
	}
	return fmt.Sprintf("shared the file %s (%s)", o.Name, humanize.IBytes(o.Size))
}

// wantLocked asks the sender of m, a note that a file was shared, to offer
// it, if it is someone else's, this user has no offer of it under way and
// the sender is connected. (One not connected offers it when it connects,
// if it still runs; a want goes only directly, never through a member.)
func (b *Bridge) wantLocked(m *rooms.Message) {
	o, err := wire.ParseRoomFileNote(m.Text)
	if err != nil || m.ID.Sender == b.self {
		return
	}
	id := chat.FileID(transfer.OfferID(o, b.self))
	if _, err := b.node.FindFile(id.String()); err == nil {
		return // offered already
	}
	want, _ := wire.AppendRoomFileWant(nil, wire.RoomFileWantMessage{Room: m.Room, Root: o.Root})
	p, err := wire.AppendRoomPayload(nil, "", want)
	if err == nil {
		err = b.node.SendRoom(m.ID.Sender, p)
	}
	if err != nil {
		b.log.Debug("room file want not sent", "to", m.ID.Sender.Fingerprint(), "err", err)
	}
}

// fileWant answers person's want: an offer of the file if this user shared
// it in that room this run, person is a member now, and it was not
// offered it yet.
func (b *Bridge) fileWant(person keys.PublicKey, d []byte) {
	w, err := wire.ParseRoomFileWant(d)
	if err != nil {
		b.log.Debug("room file want dropped", "from", person.Fingerprint(), "err", err)
		return
	}
	b.mu.Lock()
	var due *sharedFile
	for _, f := range b.shared {
		if f.room == rooms.RoomID(w.Room) && f.root == w.Root && b.claimLocked(f, person) {
			due = f
			break
		}
	}
	b.mu.Unlock()
	if due != nil {
		go func() {
			if _, _, err := b.offer(due, person); err != nil {
				b.log.Debug("room file not offered", "to", person.Fingerprint(), "err", err)
			}
		}()
	}
}

// claimLocked marks member as being offered f, if it is another member of
// f's room not offered it yet.
func (b *Bridge) claimLocked(f *sharedFile, member keys.PublicKey) bool {
	if member == b.self || !slices.Contains(b.core.Members(f.room), member) {
		return false
	}
	if _, done := f.to[member]; done {
		return false
	}
	f.to[member] = chat.FileID{}
	return true
}

// offer offers f to member, claimed for it, over their session if one is
// up; connected is false if none is, and the claim is let go to be made
// again when it connects, as it is when the offer fails.
func (b *Bridge) offer(f *sharedFile, member keys.PublicKey) (ft chat.FileTransfer, connected bool, err error) {
	for _, p := range b.node.Peers() {
		if p.Person == member && p.Name != "" && p.State == chat.PeerOnline {
			ft, err = b.node.SendSource(p.Addr, f.src.Share())
			connected = true
			break
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil || !connected {
		delete(f.to, member)
		return ft, connected, err
	}
	f.to[member] = ft.ID
	return ft, true, nil
}

// offerShared offers person, who just connected, the files shared in rooms
// it is a member of that it was not offered yet. It hashes each file: the
// caller runs it on a goroutine of its own.
func (b *Bridge) offerShared(person keys.PublicKey) {
	b.mu.Lock()
	var due []*sharedFile
	for _, f := range b.shared {
		if b.claimLocked(f, person) {
			due = append(due, f)
		}
	}
	b.mu.Unlock()
	for _, f := range due {
		if _, _, err := b.offer(f, person); err != nil {
			b.log.Debug("room file not offered", "to", person.Fingerprint(), "err", err)
		}
	}
}

// dropGoneLocked forgets those offered room's files that are not among
// members (the room's now; none if this user was removed), and returns
// their transfers, to be cancelled.
func (b *Bridge) dropGoneLocked(room rooms.RoomID, members []keys.PublicKey) []chat.FileID {
	var gone []chat.FileID
	for _, f := range b.shared {
		if f.room != room {
			continue
		}
		for k, id := range f.to {
			if !slices.Contains(members, k) {
				delete(f.to, k)
				if id != (chat.FileID{}) {
					gone = append(gone, id)
				}
			}
		}
	}
	return gone
}
