package relaycluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/wire"
)

// MailStream is the JetStream stream of the cluster's mailboxes: one
// subject per recipient, mailSubjectPrefix and the key in hex.
const MailStream = "UDPCHAT_MAIL"

const mailSubjectPrefix = "udpchat.mail."

// MailConfig bounds the cluster's mailboxes. Conn, MaxPer and MaxAge are
// required.
type MailConfig struct {
	Conn *nats.Conn
	// MaxPer is the most blobs held for one recipient; a put over it is
	// refused (wire.MailBoxFull), nothing held pushed out.
	MaxPer int
	// MaxAge is how long a blob waits for its recipient.
	MaxAge time.Duration
	// Replicas is how many NATS servers hold each blob: 3 in a cluster of
	// three or more, so that losing one loses no mail. Default 1.
	Replicas int
}

// Mailboxes are the cluster's mailboxes in JetStream: a relay.MailStore
// any relay of the cluster reads and writes. The stream holds only what
// the SQLite store does: the sealed blob, for a recipient's key, at a time.
// JetStream enforces the bounds: the age (MaxAge), and the count per
// recipient (MaxMsgsPerSubject, discarding new), so a full mailbox refuses
// the put rather than losing the oldest mail; with MaxPer blobs of at most
// wire.MaxMailBlob bytes, that bounds each recipient's size too.
type Mailboxes struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	maxAge time.Duration
}

var _ relay.MailStore = (*Mailboxes)(nil)

// OpenMailboxes makes (or updates to cfg) the mailbox stream, trying until
// ctx ends, as Join does.
func OpenMailboxes(ctx context.Context, cfg MailConfig) (*Mailboxes, error) {
	if cfg.Conn == nil || cfg.MaxPer <= 0 || cfg.MaxAge <= 0 {
		return nil, fmt.Errorf("relaycluster: mailboxes need a NATS connection and positive bounds (%d blobs, %v)", cfg.MaxPer, cfg.MaxAge)
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("relaycluster: %w", err)
	}
	streamCfg := jetstream.StreamConfig{
		Name:                 MailStream,
		Description:          "udpchat relay mailboxes: sealed blobs for offline recipients",
		Subjects:             []string{mailSubjectPrefix + "*"},
		Retention:            jetstream.LimitsPolicy,
		MaxAge:               cfg.MaxAge,
		MaxMsgsPerSubject:    int64(cfg.MaxPer),
		Discard:              jetstream.DiscardNew,
		DiscardNewPerSubject: true,
		MaxMsgSize:           wire.MaxMailBlob,
		Storage:              jetstream.FileStorage,
		Replicas:             max(1, cfg.Replicas),
	}
	var st jetstream.Stream
	err = retry(ctx, createAttempt, transient, func(ctx context.Context) (err error) {
		st, err = js.CreateOrUpdateStream(ctx, streamCfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("relaycluster: mailbox stream: %w", err)
	}
	return &Mailboxes{js: js, stream: st, maxAge: cfg.MaxAge}, nil
}

func mailSubject(to keys.PublicKey) string { return mailSubjectPrefix + hex.EncodeToString(to[:]) }

// Put stores blob for to; it returns once the stream's replicas have it.
// The id is the blob's sequence in the stream.
//
// No two sealed blobs are alike (each has an ephemeral key of its own), so
// the blob's hash names the put for JetStream's deduplication: a put the
// client resent, or that this relay sent again after NATS lost the answer,
// is stored once (within the stream's duplicate window, 2 minutes) and
// answered with the first one's id.
//
// A put that fails for NATS (the server it went to is gone, the stream is
// electing a leader) is tried again for up to putRetry, which the
// deduplication makes safe: a mail is refused only when NATS stays away.
func (m *Mailboxes) Put(ctx context.Context, to keys.PublicKey, blob []byte, _ time.Time) (uint64, uint8, error) {
	sum := sha256.Sum256(blob)
	id := hex.EncodeToString(sum[:16])
	ctx, cancel := context.WithTimeout(ctx, putRetry)
	defer cancel()
	var seq uint64
	err := retry(ctx, putAttempt, func(err error) bool { return !isMailboxFull(err) }, func(ctx context.Context) error {
		ack, err := m.js.Publish(ctx, mailSubject(to), blob, jetstream.WithMsgID(id))
		if err == nil {
			seq = ack.Sequence
		}
		return err
	})
	switch {
	case err == nil:
		return seq, wire.MailStored, nil
	case isMailboxFull(err):
		return 0, wire.MailBoxFull, nil
	}
	return 0, wire.MailRefused, err
}

// putRetry is how long Put tries: longer than a JetStream cluster takes to
// elect a stream's leader when one of its servers goes (a few seconds).
// Each try waits putAttempt for its answer (one sent to a server that died
// gets none).
const (
	putRetry   = 10 * time.Second
	putAttempt = 2 * time.Second
)

// jsStreamStoreFailed is the error code of a publish the stream did not
// store, with the store's reason (nats.go names no constant for it).
const jsStreamStoreFailed jetstream.ErrorCode = 10077

// isMailboxFull says whether a publish was refused for the recipient's
// bound.
func isMailboxFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamStoreFailed &&
		strings.Contains(apiErr.Description, "maximum messages per subject")
}

// Fetch returns up to limit of to's blobs, oldest first, younger than
// MaxAge: each the next of to's subject in the stream.
func (m *Mailboxes) Fetch(ctx context.Context, to keys.PublicKey, now time.Time, limit int) ([]Mail, error) {
	subj := mailSubject(to)
	oldest := now.Add(-m.maxAge)
	var out []relay.Mail
	for seq := uint64(1); len(out) < limit; {
		msg, err := m.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if msg.Time.After(oldest) {
			out = append(out, relay.Mail{ID: msg.Sequence, StoredAt: msg.Time, Blob: msg.Data})
		}
		seq = msg.Sequence + 1
	}
	return out, nil
}

// Mail is relay.Mail, the blob Fetch returns.
type Mail = relay.Mail

// Ack deletes blob id if it is to's.
func (m *Mailboxes) Ack(ctx context.Context, to keys.PublicKey, id uint64) (bool, error) {
	msg, err := m.stream.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if msg.Subject != mailSubject(to) {
		return false, nil
	}
	err = m.stream.DeleteMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return false, nil // another relay took the same ack first
	}
	return err == nil, err
}

// Expire deletes nothing: the stream's MaxAge does.
func (m *Mailboxes) Expire(context.Context, time.Time) (int64, error) { return 0, nil }

// Len is how many blobs the stream holds.
func (m *Mailboxes) Len(ctx context.Context) (int, error) {
	info, err := m.stream.Info(ctx)
	if err != nil {
		return 0, err
	}
	return int(info.State.Msgs), nil
}
