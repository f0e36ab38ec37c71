package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// Conversations: the direct chat with the peers (the first, always there)
// and each room, each with its own transcript. One is shown; the others
// count what arrives unseen, note a mention of our name, and put a "— new
// —" line where the user left off.

// newLabel is the line above what arrived while the user was elsewhere.
const newLabel = "new"

// conversation is the direct chat (room "") or a room, with its transcript
// and what the user has not seen of it.
type conversation struct {
	room    string
	topic   string // a room's, for the header
	tr      *transcript
	unread  int
	mention bool   // an unseen message names us
	marker  *entry // "— new —", above the first message that came while away

	// A room's own messages by ID, for their ✓✓ k/n; early keeps delivery
	// news that came before Say returned. lastOwn is the newest, for /info.
	own     map[chat.RoomMsgID]*entry
	early   map[chat.RoomMsgID]chat.RoomDelivery
	lastOwn *entry

	// A room's messages from before this run come from its history, read
	// once (loading says it was asked for); shown notes what is on screen
	// already, so that none shows twice.
	loading bool
	shown   map[chat.RoomMsgID]bool

	// missing are the members without lastOwn, as of its asked-th
	// delivery news (askedK), for the panel.
	missing []string
	asked   *entry
	askedK  int
}

func newConversation(room string, tr *transcript) *conversation {
	return &conversation{room: room, tr: tr, own: make(map[chat.RoomMsgID]*entry),
		early: make(map[chat.RoomMsgID]chat.RoomDelivery), shown: make(map[chat.RoomMsgID]bool)}
}

// label is how the conversation is named in the panel and the header.
func (c *conversation) label() string {
	if c.room == "" {
		return "direct chat"
	}
	return "#" + termsafe.Line(c.room)
}

// arrived notes a message that came while the conversation is not shown:
// the "— new —" line goes above the first.
func (c *conversation) arrived(mention bool) {
	if c.marker == nil {
		c.marker = &entry{kind: entryNew, at: time.Now(), text: newLabel}
		c.tr.add(c.marker)
	}
	c.unread++
	c.mention = c.mention || mention
}

// left is the user switching away: an old "— new —" line goes, since the
// user has now seen what was under it.
func (c *conversation) left() {
	if c.marker == nil {
		return
	}
	for i, e := range c.tr.entries {
		if e == c.marker {
			c.tr.entries = append(c.tr.entries[:i], c.tr.entries[i+1:]...)
			break
		}
	}
	c.marker = nil
	c.tr.dirty = true
}

// deliver records that k of n members have our message id.
func (c *conversation) deliver(ev chat.RoomDelivery) {
	e := c.own[ev.ID]
	if e == nil {
		if len(c.early) >= maxOrphans {
			clear(c.early)
		}
		c.early[ev.ID] = ev
		return
	}
	if ev.K >= e.k {
		e.k, e.n = ev.K, ev.N
		e.rendered = nil
		c.tr.dirty = true
	}
}

// shown is the conversation on screen.
func (m *model) shown() *conversation { return m.convs[m.cur] }

// conversation returns the room's conversation, adding it if new.
func (m *model) conversation(room string) *conversation {
	for _, c := range m.convs {
		if c.room == room {
			return c
		}
	}
	tr := newTranscript(m.keys)
	tr.chatted = true // no welcome in a room
	c := newConversation(room, &tr)
	m.convs = append(m.convs, c)
	m.layout()
	return c
}

// close drops a room's conversation (the user left the room) and shows the
// direct chat.
func (m *model) close(room string) {
	for i, c := range m.convs {
		if i > 0 && c.room == room {
			m.switchTo(0)
			m.convs = append(m.convs[:i], m.convs[i+1:]...)
			m.layout()
			return
		}
	}
}

// switchTo shows the i-th conversation.
func (m *model) switchTo(i int) {
	if i < 0 || i >= len(m.convs) || i == m.cur {
		return
	}
	m.shown().left()
	m.cur = i
	c := m.shown()
	c.unread, c.mention = 0, false
	m.layout()
	c.tr.restyle()
	c.tr.follow = true
}

// open shows the room's conversation.
func (m *model) open(room string) { m.switchTo(m.index(m.conversation(room))) }

func (m *model) index(c *conversation) int {
	for i, o := range m.convs {
		if o == c {
			return i
		}
	}
	return 0
}

// mentions says whether text names name as a word, in any case.
func mentions(text, name string) bool {
	if name == "" {
		return false
	}
	lt, ln := strings.ToLower(text), strings.ToLower(name)
	for i := 0; ; {
		j := strings.Index(lt[i:], ln)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(ln)
		if !wordRuneBefore(lt[:j]) && !wordRuneAfter(lt[end:]) {
			return true
		}
		i = j + 1
	}
}

func wordRuneBefore(s string) bool {
	r := []rune(s)
	return len(r) > 0 && isWordRune(r[len(r)-1])
}

func wordRuneAfter(s string) bool {
	for _, r := range s {
		return isWordRune(r)
	}
	return false
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// roomEvent shows a room's news, and says what calls for the bell, if
// anything: a mention of us in a conversation not shown.
func (m *model) roomEvent(ev chat.Event) (bell string) {
	switch ev := ev.(type) {
	case chat.RoomMessage:
		c := m.conversation(ev.RoomName)
		if c.shown[ev.ID] {
			break
		}
		c.shown[ev.ID] = true
		if ev.Own {
			if c.own[ev.ID] == nil {
				c.addOwn(ev, m.name)
			}
			return ""
		}
		mention := mentions(ev.Text, m.name)
		if c != m.shown() && !ev.History {
			c.arrived(mention)
			if mention {
				bell = ev.From + " in " + c.label()
			}
		}
		c.tr.add(&entry{kind: entryMessage, at: ev.At, name: ev.From, text: ev.Text, past: ev.History})
	case chat.RoomTopic:
		c := m.conversation(ev.RoomName)
		c.topic = ev.Topic
		c.tr.notice("%s set the topic: %s", termsafe.Line(ev.From), termsafe.Line(ev.Topic))
	case chat.RoomInvite:
		m.shown().tr.notice("%s", command.InviteText(ev))
	case chat.RoomDelivery:
		m.conversation(ev.RoomName).deliver(ev)
	case chat.MembersChanged:
		c := m.conversation(ev.RoomName)
		c.tr.notice("%s", command.MembersText(ev))
		if ev.Removed && c != m.shown() {
			m.shown().tr.notice("%s", command.MembersText(ev))
		}
	}
	return bell
}

// addOwn shows our room message as sent: ✓, then ✓✓ k/n as members store
// it. The rooms call us "you"; the transcript shows our name, as for the
// peers.
func (c *conversation) addOwn(msg chat.RoomMessage, name string) {
	e := &entry{kind: entryOwn, at: msg.At, name: name, text: msg.Text, room: true, roomID: msg.ID}
	c.own[msg.ID] = e
	c.shown[msg.ID] = true
	c.lastOwn = e
	if d, ok := c.early[msg.ID]; ok {
		delete(c.early, msg.ID)
		e.k, e.n = d.K, d.N
	}
	c.tr.add(e)
}

// roomDoneMsg is a room command done: a room to show, a room left (its
// conversation closes), news, an error.
type roomDoneMsg struct {
	open   string
	left   string
	notice string
	err    error
}

// roomSaidMsg is a line said in a room: the message as stored, or why not.
type roomSaidMsg struct {
	conv *conversation
	msg  chat.RoomMessage
	err  error
}

// roomCmd runs f on the node's rooms in a Cmd: they touch the disk.
func (m *model) roomCmd(f func(rs chat.Rooms) roomDoneMsg) tea.Cmd {
	rs := m.node.Rooms()
	if rs == nil {
		m.fail(command.ErrNoRooms)
		return nil
	}
	return func() tea.Msg { return f(rs) }
}

// say sends text to the room shown.
func (m *model) say(text string) tea.Cmd {
	rs, c := m.node.Rooms(), m.shown()
	if rs == nil {
		m.fail(command.ErrNoRooms)
		return nil
	}
	return m.input.inOrder(func() tea.Msg {
		msg, err := rs.Say(c.room, text)
		return roomSaidMsg{conv: c, msg: msg, err: err}
	})
}

// gotSaid shows our room message, once stored (or why it was not).
func (m *model) gotSaid(msg roomSaidMsg) {
	if msg.err != nil {
		m.fail(fmt.Errorf("line not sent to #%s: %w", msg.conv.room, msg.err))
		return
	}
	if msg.conv.own[msg.msg.ID] == nil {
		msg.conv.addOwn(msg.msg, m.name)
	}
}

// gotRoomDone shows what a room command did.
func (m *model) gotRoomDone(msg roomDoneMsg) {
	if msg.open != "" {
		m.open(msg.open)
	}
	if msg.left != "" {
		m.close(msg.left)
	}
	if msg.notice != "" {
		m.shown().tr.notice("%s", msg.notice)
	}
	if msg.err != nil {
		m.fail(msg.err)
	}
}

// openRoomCmd shows room name (/room NAME, --room): one of ours, the one
// an invitation offers, or a new one.
func (m *model) openRoomCmd(name string) tea.Cmd {
	return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
		created, err := command.OpenRoom(rs, name)
		if err != nil {
			return roomDoneMsg{err: fmt.Errorf("room %s: %w", name, err)}
		}
		if created {
			return roomDoneMsg{open: name, notice: command.CreatedText(name)}
		}
		return roomDoneMsg{open: name}
	})
}

// roomCommand carries out /room, /join, /part, /invite, /members, /info.
func (m *model) roomCommand(cmd command.Command) tea.Cmd {
	c := m.shown()
	switch cmd.Kind {
	case command.Part:
		m.switchTo(0)
		return nil
	case command.Room:
		if name, ok := strings.CutPrefix(cmd.Arg, "create "); ok {
			name = strings.TrimSpace(name)
			return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
				info, err := rs.Create(name)
				return roomDoneMsg{open: info.Name, err: err}
			})
		}
		if cmd.Arg == "" {
			return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
				var lines []string
				for _, i := range rs.List() {
					lines = append(lines, fmt.Sprintf("#%s: %s", i.Name, strings.Join(i.Members, ", ")))
				}
				if len(lines) == 0 {
					return roomDoneMsg{notice: "you are in no room: /room create NAME founds one"}
				}
				return roomDoneMsg{notice: "your rooms: " + strings.Join(lines, "; ")}
			})
		}
		return m.openRoomCmd(cmd.Arg)
	case command.Join:
		name := cmd.Arg
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			if err := rs.Join(name); err != nil {
				return roomDoneMsg{err: err}
			}
			return roomDoneMsg{open: name}
		})
	}
	if c.room == "" {
		m.fail(errors.New("no room is shown: /room NAME or /join NAME first (Ctrl+N/Ctrl+P switch)"))
		return nil
	}
	switch cmd.Kind {
	case command.Leave:
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			if err := rs.Leave(c.room); err != nil {
				return roomDoneMsg{err: err}
			}
			return roomDoneMsg{left: c.room, notice: command.MembersText(chat.MembersChanged{RoomName: c.room, Left: true})}
		})
	case command.Remove:
		who := cmd.Arg
		if who == "" {
			m.fail(errors.New("/remove needs a member, e.g. /remove bob"))
			return nil
		}
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg { return roomDoneMsg{err: rs.Remove(c.room, who)} })
	case command.Invite:
		who := cmd.Arg
		if who == "" {
			m.fail(errors.New("/invite needs a peer, e.g. /invite bob or /invite 192.0.2.7:7475"))
			return nil
		}
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			err := rs.Invite(c.room, who)
			if errors.Is(err, chat.ErrInviteWaits) {
				return roomDoneMsg{notice: who + ": " + err.Error()}
			}
			return roomDoneMsg{err: err}
		})
	case command.Topic:
		topic := cmd.Arg
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			if topic != "" {
				return roomDoneMsg{err: rs.SetTopic(c.room, topic)}
			}
			info, err := command.FindRoom(rs, c.room)
			if err != nil {
				return roomDoneMsg{err: err}
			}
			return roomDoneMsg{notice: command.TopicText(info)}
		})
	case command.Members:
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			info, err := command.FindRoom(rs, c.room)
			if err != nil {
				return roomDoneMsg{err: err}
			}
			return roomDoneMsg{notice: fmt.Sprintf("#%s members: %s", info.Name, strings.Join(info.Members, ", "))}
		})
	case command.Info:
		last := c.lastOwn
		if last == nil {
			m.fail(fmt.Errorf("you have said nothing in #%s in this run", c.room))
			return nil
		}
		return m.roomCmd(func(rs chat.Rooms) roomDoneMsg {
			info, err := command.FindRoom(rs, c.room)
			if err != nil {
				return roomDoneMsg{err: err}
			}
			missing, err := rs.Missing(c.room, last.roomID)
			if err != nil {
				return roomDoneMsg{err: err}
			}
			return roomDoneMsg{notice: command.MissingText(last.text, missing, info)}
		})
	}
	return nil
}

// bellCmd rings the terminal's bell for a mention, or a direct message
// while a room is shown; and, on a terminal known to show it, puts up a
// desktop notification saying which conversation.
func (m *model) bellCmd(about string) tea.Cmd {
	return tea.Raw("\a" + notification(m.opts.Env, about))
}

// notification is the desktop notification about what, in the form the
// terminal of env shows, or "" for a terminal not known to show one: an
// OSC it does not know may print. Those that say who they are: iTerm2,
// WezTerm and kitty show OSC 9; foot and Ghostty show OSC 777 (rxvt-
// unicode's notify, with a title), and rxvt-unicode itself, with its
// notify extension (without it, it ignores the OSC).
func notification(env []string, what string) string {
	what = termsafe.Line(what)
	for _, kv := range env {
		switch {
		case kv == "TERM_PROGRAM=iTerm.app", kv == "TERM_PROGRAM=WezTerm", kv == "TERM=xterm-kitty":
			return ansi.Notify("udpchat: " + what)
		case kv == "TERM=foot", strings.HasPrefix(kv, "TERM=foot-"), kv == "TERM_PROGRAM=ghostty", kv == "TERM=xterm-ghostty",
			strings.HasPrefix(kv, "TERM=rxvt-unicode"):
			return ansi.URxvtExt("notify", "udpchat", strings.ReplaceAll(what, ";", ","))
		}
	}
	return ""
}

// syncPanel hands the panel the conversations, and lays the screen out
// again if the panel came or went.
func (m *model) syncPanel() {
	items := make([]convItem, len(m.convs))
	for i, c := range m.convs {
		items[i] = convItem{label: c.label(), unread: c.unread, mention: c.mention, current: i == m.cur}
	}
	had := m.panelWidth()
	m.panel.convs = items
	m.panel.missing = m.shown().missing
	if m.panelWidth() != had {
		m.layout()
		m.restyle()
	}
}

// roomHistory is the most a room shows of its history when the UI opens it.
const roomHistory = 100

// roomsListedMsg are the rooms we are in, at the start.
type roomsListedMsg []chat.RoomInfo

// roomHistoryMsg is a room's history, read for its conversation.
type roomHistoryMsg struct {
	conv *conversation
	msgs []chat.RoomMessage
	err  error
}

// listRoomsCmd asks for our rooms, for the conversations list at the start.
func (m *model) listRoomsCmd() tea.Cmd {
	rs := m.node.Rooms()
	if rs == nil {
		return nil
	}
	return func() tea.Msg { return roomsListedMsg(rs.List()) }
}

// loadRooms reads the history of each room not yet read.
func (m *model) loadRooms() tea.Cmd {
	rs := m.node.Rooms()
	var cmds []tea.Cmd
	for _, c := range m.convs {
		if c.room == "" || c.loading || rs == nil {
			continue
		}
		c.loading = true
		cmds = append(cmds, func() tea.Msg {
			msgs, err := rs.History(c.room)
			return roomHistoryMsg{conv: c, msgs: msgs, err: err}
		})
	}
	return tea.Batch(cmds...)
}

// gotRoomHistory puts a room's recent history, dimmed, above what came
// since the UI opened it, under "— earlier —".
func (m *model) gotRoomHistory(msg roomHistoryMsg) {
	if msg.err != nil {
		m.fail(fmt.Errorf("history of #%s: %w", msg.conv.room, msg.err))
		return
	}
	c := msg.conv
	var past []*entry
	for _, rm := range msg.msgs[max(len(msg.msgs)-roomHistory, 0):] {
		if c.shown[rm.ID] {
			continue
		}
		c.shown[rm.ID] = true
		name := rm.From
		if rm.Own {
			name = m.name
		}
		past = append(past, &entry{kind: entryMessage, at: rm.At, name: name, text: rm.Text, past: true, stamp: "Jan 2 15:04"})
	}
	if len(past) == 0 {
		return
	}
	past = append(past, &entry{kind: entryEarlier, past: true, at: time.Now(), text: earlierLabel})
	c.tr.entries = append(past, c.tr.entries...)
	c.tr.trim()
	c.tr.dirty = true
}

// missingMsg is who lacks our newest message of a room.
type missingMsg struct {
	conv  *conversation
	about *entry
	names []string
	err   error
}

// askMissing asks, for the room shown, who lacks our newest message there,
// when that message or its ✓✓ k/n changed: the panel lists them.
func (m *model) askMissing() tea.Cmd {
	c, rs := m.shown(), m.node.Rooms()
	e := c.lastOwn
	if e == nil || rs == nil || c.asked == e && c.askedK == e.k {
		return nil
	}
	c.asked, c.askedK = e, e.k
	return func() tea.Msg {
		names, err := rs.Missing(c.room, e.roomID)
		return missingMsg{conv: c, about: e, names: names, err: err}
	}
}

// gotMissing keeps who lacks our newest message, if it still is.
func (m *model) gotMissing(msg missingMsg) {
	if msg.err == nil && msg.conv.lastOwn == msg.about {
		msg.conv.missing = msg.names
	}
}
