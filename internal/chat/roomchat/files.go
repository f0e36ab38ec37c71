package roomchat

import (
	"fmt"
	"slices"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/rooms"
)

// Files to a room (docs/PROTOCOL.md F7): the file goes to each other member
// as a 1:1 transfer over their pairwise session; the bridge only says whom,
// and when: every member at once if connected, else when it connects, and
// never again once it is out of the room.

// sharedFile is a file this user sent to a room while this node runs.
type sharedFile struct {
	room rooms.RoomID
	path string
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
	f := &sharedFile{room: id, path: path, to: make(map[keys.PublicKey]chat.FileID)}
	b.mu.Lock()
	if !b.core.In(id) || b.core.Leaving(id) {
		b.mu.Unlock()
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
			// The file itself is at fault (missing, unreadable): no one gets it.
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
	return out, nil
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
			ft, err = b.node.SendFile(p.Addr, f.path)
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
