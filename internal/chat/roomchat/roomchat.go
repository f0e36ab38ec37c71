// Package roomchat carries rooms (internal/rooms) over a chat node: it is
// the node's RoomCarrier. Room datagrams ride the pairwise sessions as room
// payloads (wire.ChatRoom); who is connected tells the core who it can
// reach; a ticker drives the core's repairs; what happens in the rooms
// becomes chat Events. The UIs see only chat.Rooms.
package roomchat

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/rooms"
	"github.com/udpchat/udpchat/internal/safefile"
	"github.com/udpchat/udpchat/internal/wire"
)

// TickEvery is how often the core's Tick runs: its repairs are due every
// rooms.GapRetry at the soonest.
const TickEvery = time.Second

// Config is what Start needs.
type Config struct {
	Node    *chat.Node
	Self    [32]byte           // this user's identity key, as peers see it
	Sign    ed25519.PrivateKey // this user's room signing key
	Storage rooms.Storage
	// Labels is the file that keeps this user's names for rooms; "" keeps
	// them in memory only.
	Labels string
	Logger *slog.Logger
	// Now is the core's clock; nil is time.Now.
	Now func() time.Time
	// FanoutAbove is the room size above which messages go through a
	// relay's fan-out (SetFanout); 0 is rooms.FanoutMembers. Tests lower it.
	FanoutAbove int
}

// Bridge is a chat node's rooms.
type Bridge struct {
	node   *chat.Node
	core   *rooms.Node
	self   keys.PublicKey
	file   string
	log    *slog.Logger
	stop   chan struct{}
	done   chan struct{}
	closer sync.Once

	// mu guards the fields below and orders the core's calls with the
	// drains of its outbox that follow, so that datagrams leave in the
	// order the core made them. Never held while posting events.
	mu      sync.Mutex
	labels  map[rooms.RoomID]string
	offered map[rooms.RoomID]string    // an invitation's label, from its payload
	waiting map[rooms.MessageID]waitAt // our messages not yet on every member's disk
	// inviting are the rooms each person is invited to as soon as their
	// room key (binding) arrives: one invited right after connecting.
	inviting map[keys.PublicKey][]rooms.RoomID
	// members are each room's members at its last change this run saw,
	// to say who came and went.
	members map[rooms.RoomID][]keys.PublicKey
	// invited are the members each pending invitation listed when last
	// shown: its founder sends it again, and tells of changes to the room
	// (a topic, say) that the invitation does not show, and the user is
	// told only of what is new to them.
	invited map[rooms.RoomID][]keys.PublicKey
	// shared are the files sent to rooms this run (files.go); cancel, the
	// transfers to members who left, stopped once mu is let go.
	shared []*sharedFile
	cancel []chat.FileID
	// fanout is the relay's room fan-out, nil if there is none (SetFanout).
	fanout Fanout
	// subscribed are the rooms subscribed to at the fan-out.
	subscribed map[rooms.RoomID]bool
}

type waitAt struct {
	room rooms.RoomID
	k    int
}

var _ chat.RoomCarrier = (*Bridge)(nil)

// Start loads the rooms, makes them cfg.Node's and starts the ticker.
func Start(cfg Config) (*Bridge, error) {
	core, err := rooms.New(rooms.Config{Self: keys.PublicKey(cfg.Self), Sign: cfg.Sign, Storage: cfg.Storage, Now: cfg.Now, AskToJoin: true,
		FanoutAbove: cfg.FanoutAbove})
	if err != nil {
		return nil, err
	}
	b := &Bridge{node: cfg.Node, core: core, self: keys.PublicKey(cfg.Self), file: cfg.Labels, log: cfg.Logger,
		stop: make(chan struct{}), done: make(chan struct{}),
		labels: make(map[rooms.RoomID]string), offered: make(map[rooms.RoomID]string),
		waiting: make(map[rooms.MessageID]waitAt), inviting: make(map[keys.PublicKey][]rooms.RoomID),
		members: make(map[rooms.RoomID][]keys.PublicKey), invited: make(map[rooms.RoomID][]keys.PublicKey)}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if err := b.loadLabels(); err != nil {
		return nil, err
	}
	// The invitations kept from before are offered again.
	var invites []chat.Event
	for id, label := range core.Invitations() {
		b.offered[id] = label
		if ev, news := b.inviteNewsLocked(id); news {
			invites = append(invites, ev)
		}
	}
	cfg.Node.CarryRooms(b)
	cfg.Node.Post(invites...)
	// Those who joined before the node carried rooms learn our key now.
	for _, p := range cfg.Node.Peers() {
		if p.Person != ([32]byte{}) && p.Name != "" && p.State == chat.PeerOnline {
			b.PersonUp(p.Person)
		}
	}
	go b.tick()
	return b, nil
}

// Close stops the ticker, and lets go of the files shared this run.
func (b *Bridge) Close() {
	b.closer.Do(func() {
		close(b.stop)
		b.closeShared()
	})
	<-b.done
}

func (b *Bridge) tick() {
	defer close(b.done)
	t := time.NewTicker(TickEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.do(b.core.Tick)
		}
	}
}

// do runs fn on the core, sends what it produced and posts what happened.
func (b *Bridge) do(fn func()) {
	b.mu.Lock()
	fn()
	b.sendLocked()
	evs := b.eventsLocked()
	cancel := b.cancel
	b.cancel = nil
	b.mu.Unlock()
	for _, id := range cancel {
		if err := b.node.CancelFile(id); err != nil {
			b.log.Debug("room file to a member gone not stopped", "err", err)
		}
	}
	if len(evs) > 0 {
		b.node.Post(evs...)
	}
}

// sendLocked carries the core's outbox. Invitations (log datagrams) carry
// this user's label for the room, which the invitee takes as its default.
func (b *Bridge) sendLocked() {
	for _, o := range b.core.Outbox() {
		if o.Post {
			if err := b.fanout.PostRoom(o.Room, o.Datagram); err != nil {
				b.log.Debug("room post not sent", "err", err)
			}
			continue
		}
		label := ""
		if o.Datagram[0] == byte(wire.RoomLog) && len(o.Datagram) > wire.RoomIDLen {
			label = b.labels[rooms.RoomID(o.Datagram[1:1+wire.RoomIDLen])]
		}
		p, err := wire.AppendRoomPayload(nil, label, o.Datagram)
		if err == nil {
			err = b.node.SendRoom(o.To, p)
		}
		if errors.Is(err, chat.ErrNotConnected) {
			b.core.SetReachable(o.To, false) // through a member, until it is back
		} else if err != nil {
			b.log.Debug("room datagram not sent", "to", o.To.Fingerprint(), "err", err)
		}
	}
}

// RoomPayload hands a room datagram from person to the core.
func (b *Bridge) RoomPayload(person [32]byte, payload []byte) {
	label, d, err := wire.ParseRoomPayload(payload)
	if err != nil {
		return
	}
	if d[0] == byte(wire.RoomFileWant) {
		b.fileWant(person, d)
		return
	}
	b.do(func() {
		if label != "" && d[0] == byte(wire.RoomLog) && len(d) > wire.RoomIDLen {
			if id := rooms.RoomID(d[1 : 1+wire.RoomIDLen]); b.offered[id] == "" {
				b.offered[id] = label
			}
		}
		if err := b.core.ReceiveLabeled(person, d, label); err != nil {
			b.log.Debug("room datagram dropped", "from", keys.PublicKey(person).Fingerprint(), "err", err)
		}
		if d[0] == byte(wire.RoomBinding) {
			b.inviteLocked(person)
		}
	})
}

// PersonUp announces our signing key to person and reaches it directly.
func (b *Bridge) PersonUp(person [32]byte) {
	b.core.SetReachable(person, true)
	p, _ := wire.AppendRoomPayload(nil, "", b.core.Binding())
	if err := b.node.SendRoom(person, p); err != nil {
		b.log.Debug("binding not sent", "to", keys.PublicKey(person).Fingerprint(), "err", err)
	}
	b.do(func() {}) // what waited for it
	go b.offerShared(person)
}

// PersonDown reaches person through other members until it is back.
func (b *Bridge) PersonDown(person [32]byte) { b.core.SetReachable(person, false) }

// eventsLocked turns the core's events, and changes in our messages'
// delivery, into chat Events.
func (b *Bridge) eventsLocked() []chat.Event {
	var evs []chat.Event
	b.forgetInvitesLocked()
	for _, e := range b.core.Events() {
		switch e.Kind {
		case rooms.EventMessage:
			if e.Message.ID.Sender != b.self {
				evs = append(evs, b.message(e.Message))
				b.wantLocked(e.Message)
			}
		case rooms.EventInvited:
			if ev, news := b.inviteNewsLocked(e.Room); news {
				evs = append(evs, ev)
			}
		case rooms.EventJoined:
			b.setLabelLocked(e.Room, b.offerLabel(e.Room))
			b.subscribeLocked(e.Room)
		case rooms.EventMembers:
			b.subscribeLocked(e.Room)
			b.cancel = append(b.cancel, b.dropGoneLocked(e.Room, b.core.Members(e.Room))...)
			if _, known := b.labels[e.Room]; known && !b.core.Leaving(e.Room) {
				evs = append(evs, b.membersChanged(e.Room))
			}
		case rooms.EventTopic:
			if _, known := b.labels[e.Room]; known && !b.core.Leaving(e.Room) {
				evs = append(evs, b.topic(e.Room, b.labels[e.Room]))
			}
		case rooms.EventRemoved:
			b.subscribeLocked(e.Room)
			b.cancel = append(b.cancel, b.dropGoneLocked(e.Room, nil)...)
			if !b.core.Leaving(e.Room) { // else the founder answered our Leave: no news
				evs = append(evs, chat.MembersChanged{Room: chat.RoomID(e.Room), RoomName: b.labels[e.Room], Removed: true})
			}
		case rooms.EventFork:
			evs = append(evs, chat.Error{Err: fmt.Errorf("room %s: %s showed a membership log that contradicts ours",
				b.labels[e.Room], b.name(e.Member))})
		}
	}
	for id, w := range b.waiting {
		k, n := b.core.Delivery(w.room, id)
		if k == w.k {
			continue
		}
		evs = append(evs, chat.RoomDelivery{Room: chat.RoomID(w.room), RoomName: b.labels[w.room], ID: msgID(id), K: k, N: n})
		if k >= n {
			delete(b.waiting, id)
		} else {
			b.waiting[id] = waitAt{w.room, k}
		}
	}
	return evs
}

// inviteNewsLocked is the news of the pending invitation to room id: news if
// it was not shown yet, or its members changed since (Changed).
func (b *Bridge) inviteNewsLocked(id rooms.RoomID) (chat.RoomInvite, bool) {
	founder, members, _ := b.core.Invitation(id)
	before, shown := b.invited[id]
	if shown && slices.Equal(before, members) {
		return chat.RoomInvite{}, false
	}
	b.invited[id] = members
	return chat.RoomInvite{Room: chat.RoomID(id), RoomName: b.offerLabel(id), From: b.name(founder),
		Members: b.names(members), Changed: shown}, true
}

// forgetInvitesLocked forgets what was shown of invitations no longer
// pending (accepted, or taken back by the founder), so that one made
// again is shown as new.
func (b *Bridge) forgetInvitesLocked() {
	if len(b.invited) == 0 {
		return
	}
	pending := b.core.Invitations()
	for id := range b.invited {
		if _, ok := pending[id]; !ok {
			delete(b.invited, id)
		}
	}
}

// membersChanged is the news of a room's new membership: who is in, and
// who came and went since the last news of it.
func (b *Bridge) membersChanged(id rooms.RoomID) chat.MembersChanged {
	now := b.core.Members(id)
	ev := chat.MembersChanged{Room: chat.RoomID(id), RoomName: b.labels[id], Members: b.names(now)}
	if before, seen := b.members[id]; seen {
		for _, k := range now {
			if !slices.Contains(before, k) {
				ev.Added = append(ev.Added, b.name(k))
			}
		}
		for _, k := range before {
			if !slices.Contains(now, k) {
				ev.Gone = append(ev.Gone, b.name(k))
			}
		}
	}
	b.members[id] = now
	return ev
}

func msgID(id rooms.MessageID) chat.RoomMsgID { return chat.RoomMsgID{Sender: id.Sender, Seq: id.Seq} }

func (b *Bridge) message(m *rooms.Message) chat.RoomMessage {
	return chat.RoomMessage{Room: chat.RoomID(m.Room), RoomName: b.labels[m.Room], ID: msgID(m.ID),
		From: b.name(m.ID.Sender), Text: MessageText(m.Text), Own: m.ID.Sender == b.self, History: m.History, At: time.Now()}
}

// offerLabel is the label an invitation came with, made unique here.
func (b *Bridge) offerLabel(id rooms.RoomID) string {
	l := b.offered[id]
	if l == "" {
		l = "room-" + hex.EncodeToString(id[:3])
	}
	if other, taken := b.byLabel(l); taken && other != id {
		l += "-" + hex.EncodeToString(id[:2])
	}
	return l
}

// name is how a UI shows person: the name of the peer with that key, or
// its fingerprint.
func (b *Bridge) name(person keys.PublicKey) string {
	if person == b.self {
		return "you"
	}
	for _, p := range b.node.Peers() {
		if p.Person == person && p.Name != "" {
			return p.Name
		}
	}
	return person.Fingerprint()
}

func (b *Bridge) names(ps []keys.PublicKey) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = b.name(p)
	}
	return out
}

func (b *Bridge) byLabel(label string) (rooms.RoomID, bool) {
	for id, l := range b.labels {
		if l == label {
			return id, true
		}
	}
	return rooms.RoomID{}, false
}

// room finds a room of ours by label.
func (b *Bridge) room(label string) (rooms.RoomID, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byLabel(label)
	if !ok {
		return id, fmt.Errorf("no room called %q (you are in: %s)", label, strings.Join(b.labelsLocked(), ", "))
	}
	return id, nil
}

func (b *Bridge) labelsLocked() []string {
	var out []string
	for _, l := range b.labels {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Create founds a room called name, of which every newcomer gets the whole history.
func (b *Bridge) Create(name string) (chat.RoomInfo, error) {
	if err := checkLabel(name); err != nil {
		return chat.RoomInfo{}, err
	}
	var id rooms.RoomID
	var err error
	b.mu.Lock()
	if old, taken := b.byLabel(name); taken {
		b.mu.Unlock()
		return chat.RoomInfo{}, b.takenErr(old, name)
	}
	b.mu.Unlock()
	b.do(func() {
		if id, err = b.core.Create(wire.RoomHistoryAll, 0); err == nil {
			err = b.setLabelLocked(id, name)
		}
	})
	if err != nil {
		return chat.RoomInfo{}, err
	}
	return b.info(id, name), nil
}

// takenErr says why a room cannot be founded under name, the name of room
// id. A room left or removed from keeps its name, and under it its history
// (udpchat history --room), so the name is not free again: say how to get
// back in rather than that the name is taken.
func (b *Bridge) takenErr(id rooms.RoomID, name string) error {
	switch {
	case b.core.In(id):
		return fmt.Errorf("you already have a room called %q", name)
	case b.core.Leaving(id):
		return fmt.Errorf("you left #%s: only a new invitation from its founder brings you back (a new room needs another name)", name)
	default:
		return fmt.Errorf("you were removed from #%s: only a new invitation from its founder brings you back (a new room needs another name)", name)
	}
}

func checkLabel(name string) error {
	if name == "" || len(name) > wire.MaxRoomLabel || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("a room name is 1 to %d bytes without spaces or control characters", wire.MaxRoomLabel)
	}
	return nil
}

func (b *Bridge) info(id rooms.RoomID, label string) chat.RoomInfo {
	ms := b.core.Members(id)
	return chat.RoomInfo{ID: chat.RoomID(id), Name: label, Members: b.names(ms), Founder: len(ms) > 0 && ms[0] == b.self,
		Topic: b.core.Topic(id), Fanout: b.core.Fanout(id)}
}

// topic is the news of room id's topic, set by its founder.
func (b *Bridge) topic(id rooms.RoomID, label string) chat.RoomTopic {
	ms := b.core.Members(id)
	from := ""
	if len(ms) > 0 {
		from = b.name(ms[0])
	}
	return chat.RoomTopic{Room: chat.RoomID(id), RoomName: label, From: from, Topic: b.core.Topic(id)}
}

// SetTopic sets room's topic.
func (b *Bridge) SetTopic(room, topic string) error {
	id, err := b.room(room)
	if err != nil {
		return err
	}
	b.do(func() { err = b.core.SetTopic(id, topic) })
	if errors.Is(err, rooms.ErrNotFounder) {
		return fmt.Errorf("only the founder of #%s sets its topic", room)
	}
	return err
}

// Invite adds the connected peer named person (a name or address) to room.
func (b *Bridge) Invite(room, person string) error {
	id, err := b.room(room)
	if err != nil {
		return err
	}
	key, err := b.person(person)
	if err != nil {
		return err
	}
	b.do(func() {
		if err = b.core.Add(id, key); errors.Is(err, rooms.ErrNoBinding) {
			b.inviting[key] = append(b.inviting[key], id)
			err = chat.ErrInviteWaits
		}
	})
	return err
}

// inviteLocked invites person to the rooms it waits for, its room key
// having arrived.
func (b *Bridge) inviteLocked(person keys.PublicKey) {
	for _, id := range b.inviting[person] {
		if err := b.core.Add(id, person); err != nil {
			b.log.Debug("invitation not made", "to", person.Fingerprint(), "err", err)
		}
	}
	delete(b.inviting, person)
}

func (b *Bridge) person(who string) (keys.PublicKey, error) {
	var found []keys.PublicKey
	for _, p := range b.node.Peers() {
		if p.Person == ([32]byte{}) {
			continue
		}
		if strings.EqualFold(p.Name, who) || p.Addr.String() == who || p.At().String() == who {
			if !slices.Contains(found, keys.PublicKey(p.Person)) {
				found = append(found, p.Person)
			}
		}
	}
	switch len(found) {
	case 0:
		return keys.PublicKey{}, fmt.Errorf("no connected peer called %q with a known key", who)
	case 1:
		return found[0], nil
	}
	return keys.PublicKey{}, fmt.Errorf("%q names %d people: use an address", who, len(found))
}

// Join accepts the invitation to the room offered as label.
func (b *Bridge) Join(label string) error {
	b.mu.Lock()
	var id rooms.RoomID
	found := false
	for oid := range b.offered {
		if _, _, ok := b.core.Invitation(oid); ok && b.offerLabel(oid) == label {
			id, found = oid, true
		}
	}
	b.mu.Unlock()
	if !found {
		return fmt.Errorf("no invitation to a room called %q", label)
	}
	var err error
	b.do(func() { err = b.core.Accept(id) })
	return err
}

// Leave leaves room for good.
func (b *Bridge) Leave(room string) error {
	id, err := b.room(room)
	if err != nil {
		return err
	}
	b.do(func() {
		if err = b.core.Leave(id); err == nil {
			for mid, w := range b.waiting {
				if w.room == id {
					delete(b.waiting, mid) // no news of the room from now on
				}
			}
		}
	})
	if errors.Is(err, rooms.ErrNotMember) {
		return fmt.Errorf("you are no longer in #%s", room)
	}
	return err
}

// Remove removes person from room: a member named so (or by its key's
// fingerprint), or else the connected peer named so.
func (b *Bridge) Remove(room, person string) error {
	id, err := b.room(room)
	if err != nil {
		return err
	}
	key, err := b.member(id, person)
	if err != nil {
		return err
	}
	b.do(func() { err = b.core.Remove(id, key) })
	if errors.Is(err, rooms.ErrNotFounder) {
		return fmt.Errorf("only the founder of #%s removes members", room)
	}
	return err
}

// member finds the member of room id that who names: by the name shown
// for it or its key's fingerprint, else as a connected peer.
func (b *Bridge) member(id rooms.RoomID, who string) (keys.PublicKey, error) {
	for _, k := range b.core.Members(id) {
		if k != b.self && (strings.EqualFold(b.name(k), who) || k.Fingerprint() == who) {
			return k, nil
		}
	}
	return b.person(who)
}

// Say sends text to room.
func (b *Bridge) Say(room, text string) (chat.RoomMessage, error) {
	id, err := b.room(room)
	if err != nil {
		return chat.RoomMessage{}, err
	}
	if wire.IsRoomNote([]byte(text)) {
		return chat.RoomMessage{}, errors.New("a line cannot begin with a NUL byte: that marks a note (a file shared)")
	}
	var mid rooms.MessageID
	b.do(func() {
		if mid, err = b.core.Send(id, []byte(text)); err == nil {
			b.waiting[mid] = waitAt{room: id}
		}
	})
	if err != nil {
		return chat.RoomMessage{}, err
	}
	return chat.RoomMessage{Room: chat.RoomID(id), RoomName: room, ID: msgID(mid), From: "you", Text: text, Own: true, At: time.Now()}, nil
}

// List returns the rooms this user is in.
func (b *Bridge) List() []chat.RoomInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []chat.RoomInfo
	for _, l := range b.labelsLocked() {
		if id, _ := b.byLabel(l); b.core.In(id) {
			out = append(out, b.info(id, l))
		}
	}
	return out
}

// History returns room's messages in its one order.
func (b *Bridge) History(room string) ([]chat.RoomMessage, error) {
	id, err := b.room(room)
	if err != nil {
		return nil, err
	}
	ms := b.core.Messages(id)
	out := make([]chat.RoomMessage, len(ms))
	for i := range ms {
		out[i] = b.message(&ms[i])
		out[i].RoomName = room
	}
	return out, nil
}

// Missing lists the members that do not have msg on disk yet.
func (b *Bridge) Missing(room string, msg chat.RoomMsgID) ([]string, error) {
	id, err := b.room(room)
	if err != nil {
		return nil, err
	}
	missing := b.core.Missing(id, rooms.MessageID{Sender: msg.Sender, Seq: msg.Seq})
	return b.names(missing), nil
}

// setLabelLocked names room id label, and keeps the labels.
func (b *Bridge) setLabelLocked(id rooms.RoomID, label string) error {
	b.labels[id] = label
	delete(b.offered, id)
	if b.file == "" {
		return nil
	}
	m := make(map[string]string, len(b.labels))
	for id, l := range b.labels {
		m[hex.EncodeToString(id[:])] = l
	}
	data, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return safefile.Replace(b.file, append(data, '\n'), 0o600)
}

// loadLabels reads the labels kept, and names the rooms without one.
func (b *Bridge) loadLabels() error {
	if b.file != "" {
		m, err := LoadLabels(b.file)
		if err != nil {
			return err
		}
		for id, l := range m {
			b.labels[rooms.RoomID(id)] = l
		}
	}
	for _, id := range b.core.Rooms() {
		if _, ok := b.labels[id]; !ok {
			b.labels[id] = b.offerLabel(id)
		}
	}
	return nil
}

// LoadLabels reads a labels file (Config.Labels): this user's name for
// each room, by room ID. A file that does not exist holds none.
func LoadLabels(file string) (map[[16]byte]string, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make(map[[16]byte]string, len(m))
	for h, l := range m {
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != wire.RoomIDLen {
			return nil, fmt.Errorf("%s: %q is not a room ID", file, h)
		}
		out[[16]byte(raw)] = l
	}
	return out, nil
}

// Stats returns the rooms core's counters.
func (b *Bridge) Stats() rooms.Stats { return b.core.Stats() }
