// Package mailclient is the chat's side of offline mailboxes (with
// --relay): a message that waited holdAfter for a person who is not in
// session is sealed for them (relay.SealMail: the relay cannot read it)
// and left in their mailbox at the relay; the outbox marks it held. When
// they next register they fetch it, store it as a message from us
// (dropping a copy they have), and mail us a receipt, which our node, now
// or at its next start, takes as delivery. A mail is acknowledged to the
// relay only once stored, so a crash between the two gets it again.
package mailclient

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/wire"
)

const (
	// holdAfter is how long a message waits for its person before it goes
	// to their mailbox: a session that comes up delivers it sooner.
	holdAfter = 3 * time.Second
	// holdEvery is how often the outbox is looked at for such messages.
	holdEvery = time.Second
	// remailAfter is how long a held message, with no receipt yet, waits
	// before it is mailed again: the relay may have lost it (a data dir
	// emptied, a mailbox older than --mailbox-age). A day keeps the copies
	// a message that waits out a default --mailbox-age (7 days) leaves in
	// the mailbox to 7, so that they do not crowd out the recipient's new
	// mail (--mailbox-max, 256); the recipient drops the copies.
	remailAfter = 24 * time.Hour
	// mailTimeout bounds one mail put (its resends included).
	mailTimeout = 5 * time.Second
	// mailQueue bounds the mail fetched and not yet taken by the node.
	mailQueue = 4 * relay.MailPerFetch
)

// Relay is what the mailboxes need of the relay path
// (relaypath.Path).
type Relay interface {
	// PutMail leaves a sealed blob in to's mailbox and says how the relay
	// answered (wire.MailStored, ...).
	PutMail(ctx context.Context, to keys.PublicKey, blob []byte) (uint8, error)
	// Ack tells the relay a mail is stored.
	Ack(id uint64) error
	// Introduce makes the person holding key known through the relay,
	// and returns the handle the chat knows them by.
	Introduce(key keys.PublicKey) netip.AddrPort
}

// Mailbox takes the mail the relay client fetches (OnMail) and, once Run,
// hands it to the node, and the node's messages for people out of reach
// to their mailboxes.
type Mailbox struct {
	log  *slog.Logger
	mail chan relay.Mail
}

// New makes a Mailbox logging to log.
func New(log *slog.Logger) *Mailbox {
	return &Mailbox{log: log, mail: make(chan relay.Mail, mailQueue)}
}

// OnMail is the relay client's OnMail: the mail waits for Run.
func (b *Mailbox) OnMail(m relay.Mail) { b.mail <- m }

// Run hands node's messages for people out of reach to their mailboxes
// at r, and takes our mail, sealed for key, until ctx ends.
func (b *Mailbox) Run(ctx context.Context, r Relay, node *chat.Node, key keys.PrivateKey) {
	t := time.NewTicker(holdEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-b.mail:
			b.take(ctx, r, node, key, m)
		case <-t.C:
			hold(ctx, r, node, key, b.log, node.ToHold(holdAfter, remailAfter))
		}
	}
}

// OnDemandRelay is a Relay registered with only when asked
// (relaypath.Config.OnDemand).
type OnDemandRelay interface {
	Relay
	Register(ctx context.Context) error
}

// HoldNow leaves every message node has for a known person out of
// session in their mailbox at r now, whatever its age, and marks it held:
// for udpchat send, which has no outbox to wait in, once its wait is over.
// It registers with r first, if there is anything to hold; an error says
// the relay did not answer.
func HoldNow(ctx context.Context, r OnDemandRelay, node *chat.Node, key keys.PrivateKey, log *slog.Logger) error {
	mail := node.ToHold(0, remailAfter)
	if len(mail) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	if err := r.Register(rctx); err != nil {
		return fmt.Errorf("the relay did not answer: %w", err)
	}
	hold(ctx, r, node, key, log, mail)
	return nil
}

// hold leaves each of mail in its person's mailbox and marks it held.
func hold(ctx context.Context, r Relay, node *chat.Node, key keys.PrivateKey, log *slog.Logger, mail []chat.Mail) {
	for _, m := range mail {
		blob, err := relay.SealMail(key, keys.PublicKey(m.Person), m.Payload)
		if err != nil {
			log.Debug("mailbox: too large for mail; it waits for a session", "id", m.ID, "err", err)
			continue
		}
		status, err := put(ctx, r, keys.PublicKey(m.Person), blob)
		if err != nil || status != wire.MailStored {
			log.Debug("mailbox: not held by the relay", "id", m.ID, "status", status, "err", err)
			continue
		}
		log.Debug("mailbox: held by the relay", "id", m.ID, "to", keys.PublicKey(m.Person).Fingerprint())
		if err := node.MarkHeld(m); err != nil {
			log.Warn("mailbox: " + err.Error())
		}
	}
}

func put(ctx context.Context, r Relay, to keys.PublicKey, blob []byte) (uint8, error) {
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	return r.PutMail(ctx, to, blob)
}

// take opens m, gives it to node as from its sender's relay handle, sends
// the sender the receipt node answers with, and acknowledges m to the
// relay. Mail that does not open for us is acknowledged and dropped: it
// never will.
func (b *Mailbox) take(ctx context.Context, r Relay, node *chat.Node, key keys.PrivateKey, m relay.Mail) {
	from, msg, err := relay.OpenMail(key, m.Blob)
	if err == nil {
		b.log.Debug("mailbox: mail", "from", from.Fingerprint(), "receipt", wire.IsMailReceipt(msg))
		var receipt []byte
		receipt, err = node.ReceiveMail(r.Introduce(from), from, msg)
		if err != nil {
			b.log.Debug("mailbox: mail not stored; it comes again", "from", from.Fingerprint(), "err", err)
			return // not acknowledged
		}
		if receipt != nil {
			if blob, err := relay.SealMail(key, from, receipt); err == nil {
				if status, err := put(ctx, r, from, blob); err != nil || status != wire.MailStored {
					b.log.Debug("mailbox: receipt not held by the relay", "to", from.Fingerprint(), "status", status, "err", err)
				}
			}
		}
	}
	if err != nil {
		b.log.Debug("mailbox: mail dropped", "err", err)
	}
	if err := r.Ack(m.ID); err != nil {
		b.log.Debug("mailbox: ack", "err", err)
	}
}
