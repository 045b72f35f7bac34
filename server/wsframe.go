package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/99designs/gqlgen/graphql"
	"github.com/gorilla/websocket"
)

// The write side of a websocket. Every byte the server sends after the handshake goes
// through wsConn.write, under wmu, in order: data messages, protocol and keep-alive
// messages, pongs and the close frame. gorilla/websocket does the handshake and reads; it
// writes nothing itself but, on a read protocol error such as a message over the read limit,
// the close frame (1009) it sends on a connection that is then closed.
//
// A frame is first written from the goroutine that has it (the fan-out of an event, say)
// with one non-blocking write(2) on the socket (syscall.RawConn): a subscriber that reads
// gets its event without a goroutine, a timer or a copy. What the socket does not take
// (EAGAIN, a partial write), and every frame behind it, waits in the connection's queue,
// which a writer goroutine, started then and gone once the queue is empty, writes with a
// deadline. While anything is queued, new frames queue behind it, so order holds. A
// connection that is not a plain socket (TLS) always writes from the writer goroutine.
//
// A subscription whose connection has maxQueuedFrames waiting when one of its events comes
// is dropped (graph.Push.Drop): its client gets, once it reads again, what was queued, then
// LIMIT_EXCEEDED and complete. A writer blocked for the write timeout closes the connection.

const (
	// maxQueuedFrames is how many frames may wait for a slow client before the subscription
	// whose event finds the queue full is dropped.
	maxQueuedFrames = 64
	// maxFrameHeader is the longest header of a frame the server sends (unmasked).
	maxFrameHeader = 10
)

// Frame opcodes (RFC 6455 section 5.2).
const (
	opText  = 1
	opClose = 8
	opPing  = 9
	opPong  = 10
)

// appendFrame appends one final, unmasked frame of opcode with payload to b.
func appendFrame(b []byte, opcode byte, payload []byte) []byte {
	b = append(b, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// textFrame is a text frame of payload.
func textFrame(payload []byte) []byte {
	return appendFrame(make([]byte, 0, maxFrameHeader+len(payload)), opText, payload)
}

// appendMessage appends a protocol message {"id":…,"type":…,"payload":…} to b; id "" and
// payload nil are left out.
func appendMessage(b []byte, id, typ string, payload []byte) []byte {
	b = append(b, '{')
	if id != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, id)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendJSONString(b, typ)
	if payload != nil {
		b = append(b, `,"payload":`...)
		b = append(b, payload...)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// messageFrame is the text frame of one protocol message.
func messageFrame(id, typ string, payload []byte) []byte {
	msg := appendMessage(make([]byte, 0, 32+len(id)+len(payload)), id, typ, payload)
	return textFrame(msg)
}

// frameCache holds the frames of the responses that groups of subscribers share: encoded once
// per response, operation id and message type, the same bytes are written to every
// connection. A response is known by its pointer (graph.SharedSubscriptions gives every
// subscriber of a group the same *graphql.Response); the cache forgets everything once it
// holds maxCachedResponses. The fan-out's goroutines read it at once: reads take no lock.
type frameCache struct {
	responses sync.Map // *graphql.Response → *encodedResponse
	n         atomic.Int64
}

const maxCachedResponses = 256

// encodedResponse is one response's JSON and its frames by operation id and message type.
type encodedResponse struct {
	frames  atomic.Pointer[[]cachedFrame] // copied on write
	mu      sync.Mutex                    // serialises the encodings
	payload []byte
	err     error
}

type cachedFrame struct {
	id, typ string
	frame   []byte
}

func newFrameCache() *frameCache { return &frameCache{} }

// frame returns the frame of r as message typ of operation id.
func (fc *frameCache) frame(r *graphql.Response, id, typ string) ([]byte, error) {
	v, ok := fc.responses.Load(r)
	if !ok {
		if fc.n.Add(1) > maxCachedResponses {
			fc.responses.Clear()
			fc.n.Store(1)
		}
		v, _ = fc.responses.LoadOrStore(r, &encodedResponse{})
	}
	e := v.(*encodedResponse)
	if f := e.lookup(id, typ); f != nil {
		return f, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if f := e.lookup(id, typ); f != nil {
		return f, nil
	}
	if e.payload == nil && e.err == nil {
		e.payload, e.err = json.Marshal(r)
	}
	if e.err != nil {
		return nil, e.err
	}
	f := messageFrame(id, typ, e.payload)
	var frames []cachedFrame
	if old := e.frames.Load(); old != nil {
		frames = append(frames, *old...)
	}
	frames = append(frames, cachedFrame{id: id, typ: typ, frame: f})
	e.frames.Store(&frames)
	return f, nil
}

func (e *encodedResponse) lookup(id, typ string) []byte {
	if frames := e.frames.Load(); frames != nil {
		for _, f := range *frames {
			if f.id == id && f.typ == typ {
				return f.frame
			}
		}
	}
	return nil
}

// errWriteClosed: the connection writes nothing more.
var errWriteClosed = errors.New("websocket: closed for writing")

// wsWriter is the write side of one connection (see above).
type wsWriter struct {
	nc      net.Conn
	rc      syscall.RawConn // nil: no direct writes
	timeout time.Duration   // bounds each write of the writer goroutine
	onFail  func(error)     // a write failed or timed out: the connection is dropped

	mu        sync.Mutex
	queue     [][]byte
	writing   bool      // the writer goroutine runs
	closed    bool      // nothing more is written (a close frame was queued, or a write failed)
	shutAfter bool      // close the socket once the queue is written
	shutBy    time.Time // with shutAfter: the last moment to write
}

func newWSWriter(nc net.Conn, timeout time.Duration, onFail func(error)) *wsWriter {
	w := &wsWriter{nc: nc, timeout: timeout, onFail: onFail}
	if tc, ok := nc.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			w.rc = rc
		}
	}
	return w
}

// write sends frame, which must not change afterwards. With limited, a frame that finds
// maxQueuedFrames queued is not sent and write returns false.
func (w *wsWriter) write(frame []byte, limited bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return true
	}
	return w.writeLocked(frame, limited)
}

// writeClose queues the close frame, after which nothing more is written.
func (w *wsWriter) writeClose(frame []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.writeLocked(frame, false)
	w.closed = true
}

func (w *wsWriter) writeLocked(frame []byte, limited bool) bool {
	if w.writing {
		if limited && len(w.queue) >= maxQueuedFrames {
			return false
		}
		w.queue = append(w.queue, frame)
		return true
	}
	if w.rc != nil {
		n, err := w.tryWrite(frame)
		if err != nil {
			w.closed = true
			go w.onFail(err)
			return true
		}
		if n == len(frame) {
			return true
		}
		frame = frame[n:]
	}
	w.queue = append(w.queue, frame)
	w.writing = true
	go w.flush()
	return true
}

// tryWrite writes what the socket takes of b now, without blocking.
func (w *wsWriter) tryWrite(b []byte) (int, error) {
	var n int
	var err error
	cerr := w.rc.Write(func(fd uintptr) bool {
		for {
			n, err = rawWrite(fd, b)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err == syscall.EAGAIN {
		err = nil
	}
	if err == nil {
		err = cerr
	}
	return n, err
}

// flush is the writer goroutine: it writes the queue until it is empty.
func (w *wsWriter) flush() {
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 {
			w.writing = false
			shut := w.shutAfter
			w.mu.Unlock()
			if shut {
				_ = w.nc.Close()
			}
			return
		}
		deadline := time.Now().Add(w.timeout)
		if w.shutAfter && w.shutBy.Before(deadline) {
			deadline = w.shutBy
		}
		w.mu.Unlock()
		_ = w.nc.SetWriteDeadline(deadline)
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(w.nc); err != nil {
			w.mu.Lock()
			w.closed, w.queue, w.writing = true, nil, false
			w.mu.Unlock()
			w.onFail(err)
			_ = w.nc.Close()
			return
		}
	}
}

// shut closes the socket once what is queued is written, within grace.
func (w *wsWriter) shut(grace time.Duration) {
	w.mu.Lock()
	w.closed = true
	if w.writing {
		by := time.Now().Add(grace)
		w.shutAfter, w.shutBy = true, by
		w.mu.Unlock()
		_ = w.nc.SetWriteDeadline(by)
		return
	}
	w.mu.Unlock()
	_ = w.nc.Close()
}

// Close codes graphql-transport-ws assigns (see its PROTOCOL.md).
const (
	// CloseUnauthorized: a subscribe before the server acknowledged the connection.
	CloseUnauthorized = 4401
	// CloseInitTimeout: no connection_init in time (the legacy protocol gets it too).
	CloseInitTimeout = 4408
	// CloseSubscriberAlreadyExists: a subscribe whose id is still active.
	CloseSubscriberAlreadyExists = 4409
	// CloseTooManyInitialisationRequests: a second connection_init.
	CloseTooManyInitialisationRequests = 4429
)

// maxCloseReason is the longest close reason a close frame carries (125 bytes of control
// frame payload less the 2-byte code).
const maxCloseReason = 123

// closePayload formats a close frame's payload: a code that may not be sent on the wire
// becomes 1011 (internal error), the reason is cut to 123 bytes of valid UTF-8.
func closePayload(code int, reason string) []byte {
	if code == websocket.CloseNoStatusReceived {
		return []byte{} // "no status" is sent as an empty close frame
	}
	if !sendableCloseCode(code) {
		code = websocket.CloseInternalServerErr
	}
	return websocket.FormatCloseMessage(code, truncateReason(reason))
}

// sendableCloseCode reports whether RFC 6455 lets an endpoint send code in a close frame.
func sendableCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// truncateReason makes reason valid UTF-8 of at most maxCloseReason bytes, cut at a rune
// boundary.
func truncateReason(reason string) string {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) <= maxCloseReason {
		return reason
	}
	n := maxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

// rawWrite is write(2) on a non-blocking socket as a raw system call: it cannot block, so the
// runtime need not hand the goroutine's processor to another thread meanwhile, which a
// fan-out of thousands of writes would otherwise do over and over.
func rawWrite(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}
