package bmc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// redfishSensorTypes maps the Redfish LogEntry SensorType enumeration
// (DSP0268 LogEntry, which mirrors IPMI 2.0 table 42-3) to IPMI sensor type
// codes. Keys are lower case without spaces and slashes.
var redfishSensorTypes = map[string]uint8{
	"temperature": 0x01, "voltage": 0x02, "current": 0x03, "fan": 0x04,
	"physicalchassissecurity": 0x05, "platformsecurityviolationattempt": 0x06,
	"processor": 0x07, "powersupplyconverter": 0x08, "powerunit": 0x09,
	"coolingdevice": 0x0a, "otherunits-basedsensor": 0x0b, "memory": 0x0c,
	"driveslotbay": 0x0d, "postmemoryresize": 0x0e, "systemfirmwareprogress": 0x0f,
	"eventloggingdisabled": 0x10, "systemevent": 0x12, "criticalinterrupt": 0x13,
	"buttonswitch": 0x14, "moduleboard": 0x15, "microcontrollercoprocessor": 0x16,
	"add-incard": 0x17, "chassis": 0x18, "chipset": 0x19, "otherfru": 0x1a,
	"cableinterconnect": 0x1b, "terminator": 0x1c, "systembootrestart": 0x1d,
	"booterror": 0x1e, "baseosbootinstallationstatus": 0x1f, "osstopshutdown": 0x20,
	"slotconnector": 0x21, "systemacpipowerstate": 0x22, "watchdog": 0x23,
	"platformalert": 0x24, "entitypresence": 0x25, "monitorasicic": 0x26, "lan": 0x27,
	"managementsubsystemhealth": 0x28, "battery": 0x29, "sessionaudit": 0x2a,
	"versionchange": 0x2b, "frustate": 0x2c,
}

func redfishSensorType(s string) uint8 {
	k := strings.ToLower(strings.NewReplacer(" ", "", "/", "").Replace(s))
	return redfishSensorTypes[k]
}

func redfishSeverity(s string) Severity {
	switch strings.ToLower(s) {
	case "ok":
		return SeverityOK
	case "warning":
		return SeverityWarning
	case "critical":
		return SeverityCritical
	}
	return ""
}

func redfishTime(s ...string) time.Time {
	for _, v := range s {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

type odataRef struct {
	ID string `json:"@odata.id"`
}

// origin decodes OriginOfCondition, a link object in Event and LogEntry
// (and a plain URI string in SubmitTestEvent requests).
func origin(raw json.RawMessage) string {
	var ref odataRef
	if json.Unmarshal(raw, &ref) == nil && ref.ID != "" {
		return ref.ID
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

type redfishLogEntry struct {
	ODataType       string          `json:"@odata.type"`
	ODataID         string          `json:"@odata.id"`
	ID              string          `json:"Id"`
	Created         string          `json:"Created"`
	EventTimestamp  string          `json:"EventTimestamp"`
	Message         string          `json:"Message"`
	MessageID       string          `json:"MessageId"`
	Severity        string          `json:"Severity"`
	MessageSeverity string          `json:"MessageSeverity"`
	SensorType      string          `json:"SensorType"`
	EntryCode       string          `json:"EntryCode"`
	Links           json.RawMessage `json:"Links"`
	// OriginOfCondition belongs in Links; gofish (and so bmclib's raw
	// event log) puts it at the top level as a string.
	OriginOfCondition json.RawMessage `json:"OriginOfCondition"`
}

// EventFromLogEntry parses one Redfish LogEntry resource (DSP0268
// LogEntry, as in a manager's or system's LogServices) into an Event. The
// entry's OriginOfCondition becomes SensorName; an EntryCode of "Deassert"
// makes it a deassertion, and a threshold EntryCode ("Upper Critical -
// going high", ...) gives the IPMI threshold event type and offset, so
// that a SEL entry is classified as its IPMI record would be.
func EventFromLogEntry(raw []byte) (Event, error) {
	var le redfishLogEntry
	if err := json.Unmarshal(raw, &le); err != nil {
		return Event{}, fmt.Errorf("bmc: parse Redfish LogEntry: %w", ErrInvalid)
	}
	if le.ID == "" {
		return Event{}, fmt.Errorf("bmc: Redfish LogEntry without Id: %w", ErrInvalid)
	}
	var links struct {
		OriginOfCondition json.RawMessage
	}
	if len(le.Links) > 0 {
		_ = json.Unmarshal(le.Links, &links)
	}
	if len(links.OriginOfCondition) == 0 {
		links.OriginOfCondition = le.OriginOfCondition
	}
	sev := redfishSeverity(le.MessageSeverity)
	if sev == "" {
		sev = redfishSeverity(le.Severity)
	}
	e := Event{
		ID:         le.ID,
		Time:       redfishTime(le.EventTimestamp, le.Created),
		SensorType: redfishSensorType(le.SensorType),
		SensorName: origin(links.OriginOfCondition),
		Asserted:   !strings.EqualFold(le.EntryCode, "Deassert"),
		Message:    le.Message,
		MessageID:  le.MessageID,
		Severity:   sev,
		Raw:        compactJSON(raw),
	}
	if off, ok := thresholdEntryCodes[le.EntryCode]; ok {
		e.EventType, e.Offset = ipmiThreshold, off
	}
	return e, nil
}

// thresholdEntryCodes maps the LogEntry EntryCode values of threshold
// events (DSP0268 LogEntry.LogEntryCode, which lists them in the order of
// IPMI 2.0 table 42-2) to their IPMI threshold offsets.
var thresholdEntryCodes = map[string]uint8{
	"Lower Non-critical - going low":     0x00,
	"Lower Non-critical - going high":    0x01,
	"Lower Critical - going low":         0x02,
	"Lower Critical - going high":        0x03,
	"Lower Non-recoverable - going low":  0x04,
	"Lower Non-recoverable - going high": 0x05,
	"Upper Non-critical - going low":     0x06,
	"Upper Non-critical - going high":    0x07,
	"Upper Critical - going low":         0x08,
	"Upper Critical - going high":        0x09,
	"Upper Non-recoverable - going low":  0x0a,
	"Upper Non-recoverable - going high": 0x0b,
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// redfishEventRecord is one member of an Event's Events array (DSP0268
// Event, EventRecord).
type redfishEventRecord struct {
	MemberID          string          `json:"MemberId"`
	EventID           string          `json:"EventId"`
	EventTimestamp    string          `json:"EventTimestamp"`
	EventType         string          `json:"EventType"`
	Message           string          `json:"Message"`
	MessageID         string          `json:"MessageId"`
	Severity          string          `json:"Severity"`
	MessageSeverity   string          `json:"MessageSeverity"`
	OriginOfCondition json.RawMessage `json:"OriginOfCondition"`
	Context           string          `json:"Context"`
}

// EventFromEventRecord parses one record of a Redfish Event payload's
// Events array into an Event.
func EventFromEventRecord(raw []byte) (Event, error) {
	var r redfishEventRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, fmt.Errorf("bmc: parse Redfish event record: %w", ErrInvalid)
	}
	id := r.EventID
	if id == "" {
		id = r.MemberID
	}
	if id == "" && r.MessageID == "" {
		return Event{}, fmt.Errorf("bmc: Redfish event record has neither EventId, MemberId nor MessageId: %w", ErrInvalid)
	}
	sev := redfishSeverity(r.MessageSeverity)
	if sev == "" {
		sev = redfishSeverity(r.Severity)
	}
	return Event{
		ID:         id,
		Time:       redfishTime(r.EventTimestamp),
		SensorName: origin(r.OriginOfCondition),
		Asserted:   true,
		Message:    r.Message,
		MessageID:  r.MessageID,
		Severity:   sev,
		Raw:        compactJSON(raw),
	}, nil
}

// DefaultMaxEventBytes is the largest event payload EventHandler accepts
// unless WithMaxEventBytes says otherwise.
const DefaultMaxEventBytes = 256 << 10

// EventHandler is an http.Handler that receives Redfish EventService
// pushes (DMTF Event payloads, POSTed to the subscription's Destination),
// authenticates the sender, classifies each event record and queues the
// faults, each once; Run delivers them from the queue to a callback, the
// Orchestrator's fault entry point.
//
// Subscribe each BMC with its server's ID as the subscription Context
// (the BMC echoes it in every Event), and with the shared secret in
// HttpHeaders, for example
//
//	POST /redfish/v1/EventService/Subscriptions
//	{"Destination": "https://mgmt:8443/redfish-events", "Protocol": "Redfish",
//	 "Context": "r12-07", "HttpHeaders": [{"X-Event-Secret": "..."}]}
//
// or serve the handler with TLS that requires client certificates.
//
// The default resolver trusts the Context a sender puts in its Event: any
// holder of the shared secret can report a fault for any server. Where
// that matters, bind the sender to its server with WithServerResolver, for
// example by comparing r.TLS.VerifiedChains[0][0] (mTLS) or a per-server
// secret header with the Context.
//
// ServeHTTP answers as soon as a push's faults are in the queue: a BMC
// posts with a short timeout (often well under a second) and posts again
// when it gets no answer, while a failover takes minutes. Answers: 202
// when the events were accepted (including duplicates and records that
// are not faults), 503 with Retry-After when the queue has no room for
// the push's new faults or the handler is closed (nothing of the push is
// kept: the BMC's retry brings it again), 401 without valid
// authentication, 405 for methods other than POST, 413 for bodies over
// the limit, 415 for other content types than JSON, 400 for malformed
// payloads, 422 when the server cannot be told. Payloads may also be a
// single LogEntry, which some BMCs push; that is an extension, not DMTF's
// format.
//
// Run delivers the queued faults, on up to WithEventWorkers goroutines,
// never two at once for one server and in the order they arrived for each
// server; Close stops taking pushes and waits, bounded, for the queue to
// drain, and returns what was not delivered.
//
// Serve it with an http.Server whose timeouts are set: the zero values
// mean no limit, and a sender that trickles its request would hold a
// connection and a goroutine for ever. Set ReadHeaderTimeout and
// ReadTimeout (a few seconds: the body is at most WithMaxEventBytes),
// WriteTimeout (the answer is immediate) and IdleTimeout, for example
//
//	srv := &http.Server{Addr: ":8443", Handler: h,
//		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
//		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
//	go h.Run(ctx)
//	err := srv.ListenAndServeTLS(certFile, keyFile)
//	...
//	_ = srv.Shutdown(shutdownCtx)     // no more pushes
//	left, err := h.Close(shutdownCtx) // deliver what was accepted, or get it back
type EventHandler struct {
	deliver      func(context.Context, Fault)
	secretHeader string
	secret       []byte
	verifyCert   func(*x509.Certificate) error
	resolve      func(r *http.Request, eventContext string) (string, error)
	maxBytes     int64
	classify     Classifier
	log          *slog.Logger
	clock        Clock

	queueMax   int
	workers    int
	retryAfter time.Duration

	mu      sync.Mutex
	seen    map[string]bool // records queued already (BMCs retry deliveries)
	order   []string        // seen's keys, oldest first
	maxSeen int
	queue   []Fault         // accepted, not yet taken by a worker
	busy    map[string]bool // servers with a delivery in flight
	changed chan struct{}   // closed and replaced when queue, busy or closed change
	closed  bool            // Close was called: no more pushes
	running bool            // Run is delivering
	stopped bool            // a Run returned
}

var _ http.Handler = (*EventHandler)(nil)

// EventHandlerOption configures NewEventHandler.
type EventHandlerOption func(*EventHandler) error

// WithSharedSecret accepts requests that carry secret in the given header
// (compared in constant time).
func WithSharedSecret(header, secret string) EventHandlerOption {
	return func(h *EventHandler) error {
		if header == "" || len(secret) < 16 {
			return fmt.Errorf("bmc: event handler: shared secret needs a header name and at least 16 bytes: %w", ErrInvalid)
		}
		h.secretHeader, h.secret = http.CanonicalHeaderKey(header), []byte(secret)
		return nil
	}
}

// WithClientCertificate accepts requests whose TLS connection presented a
// client certificate that the server verified (configure the http.Server's
// TLSConfig with ClientCAs and ClientAuth tls.VerifyClientCertIfGiven or
// tls.RequireAndVerifyClientCert) and that verify accepts (for example by
// its subject or DNS name).
func WithClientCertificate(verify func(*x509.Certificate) error) EventHandlerOption {
	return func(h *EventHandler) error {
		if verify == nil {
			return fmt.Errorf("bmc: event handler: nil certificate check: %w", ErrInvalid)
		}
		h.verifyCert = verify
		return nil
	}
}

// WithServerResolver tells which server a push is about. The default uses
// the Event's Context (the subscription's Context) as the server ID.
func WithServerResolver(resolve func(r *http.Request, eventContext string) (string, error)) EventHandlerOption {
	return func(h *EventHandler) error {
		if resolve == nil {
			return fmt.Errorf("bmc: event handler: nil resolver: %w", ErrInvalid)
		}
		h.resolve = resolve
		return nil
	}
}

// WithMaxEventBytes bounds the body size (default DefaultMaxEventBytes).
func WithMaxEventBytes(n int64) EventHandlerOption {
	return func(h *EventHandler) error {
		if n <= 0 {
			return fmt.Errorf("bmc: event handler: body limit %d: %w", n, ErrInvalid)
		}
		h.maxBytes = n
		return nil
	}
}

// WithEventClassifier replaces Classify.
func WithEventClassifier(c Classifier) EventHandlerOption {
	return func(h *EventHandler) error {
		if c == nil {
			return fmt.Errorf("bmc: event handler: nil classifier: %w", ErrInvalid)
		}
		h.classify = c
		return nil
	}
}

// WithEventLogger sets the logger (default: discard).
func WithEventLogger(l *slog.Logger) EventHandlerOption {
	return func(h *EventHandler) error {
		if l == nil {
			return fmt.Errorf("bmc: event handler: nil logger: %w", ErrInvalid)
		}
		h.log = l
		return nil
	}
}

// WithEventClock sets the clock that stamps faults whose record has no
// time (default SystemClock).
func WithEventClock(c Clock) EventHandlerOption {
	return func(h *EventHandler) error {
		if c == nil {
			return fmt.Errorf("bmc: event handler: nil clock: %w", ErrInvalid)
		}
		h.clock = c
		return nil
	}
}

// NewEventHandler returns a handler that delivers faults to deliver. At
// least one of WithSharedSecret and WithClientCertificate is required.
func NewEventHandler(deliver func(context.Context, Fault), opts ...EventHandlerOption) (*EventHandler, error) {
	if deliver == nil {
		return nil, fmt.Errorf("bmc: event handler: nil deliver function: %w", ErrInvalid)
	}
	h := &EventHandler{
		deliver:    deliver,
		maxBytes:   DefaultMaxEventBytes,
		classify:   Classify,
		log:        slog.New(slog.DiscardHandler),
		clock:      SystemClock(),
		seen:       map[string]bool{},
		maxSeen:    4096,
		queueMax:   DefaultEventQueue,
		workers:    DefaultEventWorkers,
		retryAfter: DefaultEventRetryAfter,
		busy:       map[string]bool{},
		changed:    make(chan struct{}),
		resolve: func(_ *http.Request, c string) (string, error) {
			if c == "" {
				return "", errors.New("the event has no Context: subscribe with the server's ID as Context")
			}
			return c, nil
		},
	}
	for _, o := range opts {
		if err := o(h); err != nil {
			return nil, err
		}
	}
	if h.secret == nil && h.verifyCert == nil {
		return nil, fmt.Errorf("bmc: event handler: no authentication (WithSharedSecret or WithClientCertificate): %w", ErrInvalid)
	}
	return h, nil
}

func (h *EventHandler) authenticated(r *http.Request) bool {
	if h.secret != nil {
		if got := r.Header.Get(h.secretHeader); got != "" && subtle.ConstantTimeCompare([]byte(got), h.secret) == 1 {
			return true
		}
	}
	if h.verifyCert != nil && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		if h.verifyCert(r.TLS.VerifiedChains[0][0]) == nil {
			return true
		}
	}
	return false
}

// ServeHTTP handles one push.
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST is accepted", http.StatusMethodNotAllowed)
		return
	}
	if !h.authenticated(r) {
		h.log.WarnContext(r.Context(), "rejected unauthenticated Redfish event", "remote", r.RemoteAddr)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", h.maxBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	eventContext, events, err := parsePush(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	server, err := h.resolve(r, eventContext)
	if err != nil || server == "" {
		msg := "cannot tell which server the event is about"
		if err != nil {
			msg += ": " + err.Error()
		}
		http.Error(w, msg, http.StatusUnprocessableEntity)
		return
	}
	now := h.clock.Now()
	var faults []Fault
	var keys []string
	for _, e := range events {
		f, ok := FaultFromEvent(server, e, h.classify, now)
		if !ok {
			continue
		}
		faults = append(faults, f)
		keys = append(keys, recordKey(server, e))
	}
	queued, err := h.enqueue(faults, keys)
	if err != nil {
		h.log.WarnContext(r.Context(), "Redfish event push refused", "server", server, "faults", len(faults), "reason", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(int((h.retryAfter+time.Second-1)/time.Second)))
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	for _, f := range queued {
		h.log.InfoContext(r.Context(), "fault from Redfish event", "server", server, "fault", f.Type, "event", f.Event.ID)
	}
	w.WriteHeader(http.StatusAccepted)
}

// recordKey identifies a pushed record: BMCs retry deliveries they think
// failed.
func recordKey(server string, e Event) string {
	return server + "\x00" + e.ID + "\x00" + e.MessageID + "\x00" + e.Time.String() + "\x00" + e.Message
}

// parsePush decodes a Redfish Event payload (or a single LogEntry) into
// its Context and records.
func parsePush(body []byte) (string, []Event, error) {
	var head struct {
		ODataType string            `json:"@odata.type"`
		Context   string            `json:"Context"`
		Events    []json.RawMessage `json:"Events"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return "", nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if strings.HasPrefix(head.ODataType, "#LogEntry.") {
		e, err := EventFromLogEntry(body)
		if err != nil {
			return "", nil, err
		}
		return head.Context, []Event{e}, nil
	}
	if head.ODataType != "" && !strings.HasPrefix(head.ODataType, "#Event.") {
		return "", nil, fmt.Errorf("payload type %q is neither an Event nor a LogEntry", head.ODataType)
	}
	if len(head.Events) == 0 {
		return "", nil, errors.New("the Event has no Events")
	}
	evs := make([]Event, 0, len(head.Events))
	ctxs := head.Context
	for i, raw := range head.Events {
		e, err := EventFromEventRecord(raw)
		if err != nil {
			return "", nil, fmt.Errorf("Events[%d]: %v", i, err)
		}
		if ctxs == "" { // Event v1.0 put Context in each record
			var rc struct{ Context string }
			_ = json.Unmarshal(raw, &rc)
			ctxs = rc.Context
		}
		evs = append(evs, e)
	}
	return ctxs, evs, nil
}
