package ontap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/coldstandby/coldstandby/storage"
)

// apiError is ONTAP's error body: {"error":{"message","code","target"}}
// (every endpoint page of the ONTAP REST API reference, "Example error";
// "Interpret an ONTAP REST API response", section "Errors").
type apiError struct {
	Error struct {
		Message string `json:"message"`
		Code    string `json:"code"`
		Target  string `json:"target"`
	} `json:"error"`
}

// collection is the shape of every collection GET: records, num_records
// and a HAL _links.next href while more pages remain ("Response body",
// ONTAP REST API overview).
type collection[T any] struct {
	Records    []T `json:"records"`
	NumRecords int `json:"num_records"`
	Links      struct {
		Next *struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"_links"`
}

// maxPages bounds paging so that a server that always returns a next link
// cannot loop the driver forever.
const maxPages = 10000

// getAll GETs path with query and follows _links.next until the last page.
func getAll[T any](ctx context.Context, m *Mapper, path string, query url.Values) ([]T, error) {
	next := path
	if len(query) > 0 {
		next += "?" + query.Encode()
	}
	var out []T
	for range maxPages {
		var page collection[T]
		if err := m.do(ctx, http.MethodGet, next, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Records...)
		if page.Links.Next == nil || page.Links.Next.Href == "" {
			return out, nil
		}
		next = page.Links.Next.Href
	}
	return nil, fmt.Errorf("GET %s: more than %d pages: %w", path, maxPages, storage.ErrTransient)
}

// do sends one request. path is relative to the API root ("/api/..."
// or a _links href, which ONTAP gives starting with /api/). A non-2xx
// answer becomes an *Error wrapping the error kind of its status and code.
func (m *Mapper) do(ctx context.Context, method, path string, body, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := m.resolve(path)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %v: %w", method, path, err, storage.ErrInvalid)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %v: %w", method, path, err, storage.ErrInvalid)
	}
	req.SetBasicAuth(m.user, m.password)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.hc.Do(req)
	mutation := method != http.MethodGet
	if err != nil {
		m.log.DebugContext(ctx, "ontap request failed", "driver", "ontap", "method", method, "path", path, "err", err)
		if cerr := ctx.Err(); cerr != nil {
			if mutation {
				return fmt.Errorf("%s %s: %w", method, path, errors.Join(cerr, storage.ErrOutcomeUnknown))
			}
			return fmt.Errorf("%s %s: %w", method, path, cerr)
		}
		if !mutation || notSent(err) {
			return fmt.Errorf("%s %s: %v: %w", method, path, err, storage.ErrTransient)
		}
		return fmt.Errorf("%s %s: %v: %w", method, path, err, storage.ErrOutcomeUnknown)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	m.log.DebugContext(ctx, "ontap request", "driver", "ontap", "method", method, "path", path, "status", resp.StatusCode)
	if err != nil {
		if mutation {
			return fmt.Errorf("%s %s: reading answer: %v: %w", method, path, err, storage.ErrOutcomeUnknown)
		}
		return fmt.Errorf("%s %s: reading answer: %v: %w", method, path, err, storage.ErrTransient)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode}
		var ae apiError
		if json.Unmarshal(data, &ae) == nil {
			e.Code, e.Message, e.Target = ae.Error.Code, ae.Error.Message, ae.Error.Target
		}
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		e.kind = classify(resp.StatusCode, e.Code)
		if mutation && resp.StatusCode == http.StatusInternalServerError && e.kind == storage.ErrTransient {
			// A generic internal error may come after the change was
			// made; only 429, 502, 503 and 504 say it was not.
			e.kind = storage.ErrOutcomeUnknown
		}
		return e
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding answer: %v: %w", method, path, err, storage.ErrTransient)
		}
	}
	return nil
}

func (m *Mapper) resolve(path string) (string, error) {
	ref, err := url.Parse(path)
	if err != nil {
		return "", fmt.Errorf("bad path %q: %v: %w", path, err, storage.ErrInvalid)
	}
	if ref.IsAbs() || ref.Host != "" {
		// Never follow a link to another host with our credentials.
		return "", fmt.Errorf("link %q leaves %s: %w", path, m.base.Host, storage.ErrTransient)
	}
	return m.base.ResolveReference(ref).String(), nil
}

// notSent reports whether err happened before the request could reach
// the server (dial, DNS, TLS handshake), so that a retry is safe.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// Error is an error answer of the ONTAP REST API. It wraps the storage
// error kind its status and code stand for, so errors.Is works.
type Error struct {
	Method, Path string
	Status       int    // HTTP status
	Code         string // ONTAP error code, e.g. "1254213"
	Message      string
	Target       string
	kind         error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		s += " code " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Target != "" {
		s += " (target " + e.Target + ")"
	}
	return s + ": " + e.kind.Error()
}

// Unwrap returns the storage error kind.
func (e *Error) Unwrap() error { return e.kind }

// Documented ONTAP error codes the driver recognises (ONTAP REST API
// reference, "ONTAP Error Response Codes" of each endpoint).
const (
	codeDuplicate      = "1"       // common error: an object with the same identifier exists (409)
	codeEntryNotFound  = "4"       // common error: entry doesn't exist (404)
	codeMapped         = "1254213" // igroup mapped and allow_delete_while_mapped not given
	codeNotMember      = "5374034" // initiator is not a member of the igroup
	codeIgroupNotFound = "5374852" // the initiator group does not exist
	codeLUNNotFound    = "5374875" // the LUN does not exist or is not accessible
	codeIgroupNotInSVM = "5374878" // the igroup does not exist or is not in the LUN's SVM
	codeMapNotFound    = "5374922" // the LUN map does not exist
)

func classify(status int, code string) error {
	switch code {
	case codeEntryNotFound, codeIgroupNotFound, codeLUNNotFound, codeIgroupNotInSVM, codeMapNotFound, codeNotMember:
		return storage.ErrNotFound
	case codeDuplicate, codeMapped:
		return storage.ErrConflict
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// Wrong credentials or role: retrying will not help.
		return storage.ErrUnsupported
	case status == http.StatusNotFound:
		return storage.ErrNotFound
	case status == http.StatusConflict:
		return storage.ErrConflict
	case status == http.StatusTooManyRequests || status >= 500:
		return storage.ErrTransient
	case status == http.StatusBadRequest:
		return storage.ErrInvalid
	}
	return storage.ErrTransient
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// isCode reports whether err is an ONTAP error answer with code.
func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
