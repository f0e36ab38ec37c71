package chat

import "github.com/udpchat/udpchat/internal/link"

// Link and Handler are package link's contract, under the names the node's
// callers know it by: New takes a Link built with the node as its Handler.
// The reliable transport (transport.Endpoint) and the seed-compatible plain
// link (plain.Link) implement Link; the Node does not know which it has
// beyond Config.Plain.
type (
	Link    = link.Link
	Handler = link.Handler
)
