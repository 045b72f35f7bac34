package gorillaws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Close codes graphql-transport-ws assigns to a client that breaks its rules (see its
// PROTOCOL.md); gqlgen closes with 1002 in these cases, so the adapter closes first.
const (
	// CloseUnauthorized: a subscribe before the server acknowledged the connection.
	CloseUnauthorized = 4401
	// CloseSubscriberAlreadyExists: a subscribe whose id is still active.
	CloseSubscriberAlreadyExists = 4409
	// CloseTooManyInitialisationRequests: a second connection_init.
	CloseTooManyInitialisationRequests = 4429
)

// ErrProtocolViolation is returned (wrapped) by a connection's NextReader after the client
// broke a rule of graphql-transport-ws; the connection was closed with the rule's code.
var ErrProtocolViolation = errors.New("gorillaws: graphql-transport-ws protocol violation")

// transportWSSubprotocol is the subprotocol whose rules the adapter enforces.
const transportWSSubprotocol = "graphql-transport-ws"

// protocolState follows a graphql-transport-ws connection through the messages the adapter
// reads and writes: whether connection_init came and was acknowledged, and the active
// operation ids. An id is active from the client's subscribe until the server sends complete
// or error for it, or the client sends complete.
type protocolState struct {
	mu     sync.Mutex
	inited bool
	acked  bool
	active map[string]bool
	// stopped counts, per id, the operations the client completed whose server complete (or
	// error) is still to come: that message must not free a new operation of the same id.
	stopped map[string]int
}

func newProtocolState() *protocolState {
	return &protocolState{active: map[string]bool{}, stopped: map[string]int{}}
}

// envelope is what the adapter reads of a message. It is decoded as gqlgen decodes messages
// (the first JSON value, field names in any case), so that both see the same type and id.
type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func decodeEnvelope(data []byte) (envelope, bool) {
	var m envelope
	err := json.NewDecoder(bytes.NewReader(data)).Decode(&m)
	return m, err == nil
}

// received records a message from the client. A message that breaks a rule returns the close
// code and reason the protocol assigns; a message that does not decode is left to gqlgen.
func (p *protocolState) received(data []byte) (code int, reason string) {
	m, ok := decodeEnvelope(data)
	if !ok {
		return 0, ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if p.inited {
			return CloseTooManyInitialisationRequests, "Too many initialisation requests"
		}
		p.inited = true
	case "subscribe":
		if !p.acked {
			return CloseUnauthorized, "Unauthorized"
		}
		if p.active[m.ID] {
			return CloseSubscriberAlreadyExists, "Subscriber for " + m.ID + " already exists"
		}
		p.active[m.ID] = true
	case "complete":
		if p.active[m.ID] {
			delete(p.active, m.ID)
			p.stopped[m.ID]++
		}
	}
	return 0, ""
}

// sent records a message to the client, before it is written: once the client reads the end
// of an operation, it may reuse the id.
func (p *protocolState) sent(data []byte) {
	m, ok := decodeEnvelope(data)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Type {
	case "connection_ack":
		p.acked = true
	case "complete", "error":
		if n := p.stopped[m.ID]; n > 0 {
			if n == 1 {
				delete(p.stopped, m.ID)
			} else {
				p.stopped[m.ID] = n - 1
			}
			return
		}
		delete(p.active, m.ID)
	}
}

// violation closes c with code and reason and returns the error its NextReader reports.
func (c *conn) violation(code int, reason string) error {
	err := fmt.Errorf("%w: %d %s", ErrProtocolViolation, code, reason)
	_ = c.WriteClose(code, reason)
	c.shutdown(err, true)
	return err
}
