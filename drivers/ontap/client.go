package ontap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coldstandby/coldstandby/internal/resthttp"
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
	req.SetBasicAuth(m.user, m.password.Reveal())
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.hc.Do(req)
	mutation := method != http.MethodGet
	if err != nil {
		m.log.DebugContext(ctx, "ontap request failed", "driver", "ontap", "method", method, "path", path, "err", err)
		kind := resthttp.Failure(ctx, err, mutation)
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, kind)
		}
		return fmt.Errorf("%s %s: %v: %w", method, path, err, kind)
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
		e.kind = classify(resp.StatusCode, e.Code, mutation)
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

// ONTAP error codes the driver recognises, each with where it is
// documented: the reference page's "ONTAP Error Response Codes" table
// (docs.netapp.com/us-en/ontap-restapi, the same tables as in NetApp
// Trident's client generated from ONTAP's OpenAPI document,
// storage_drivers/ontap/api/rest/client/s_a_n/*_responses.go), or the
// common error table of "Interpret an ONTAP REST API response"
// (docs.netapp.com/us-en/ontap-automation/rest/interpret_api_response.html).
const (
	// Common errors; Trident's api/abstraction_error.go names them
	// DUPLICATE_ENTRY and ENTRY_DOESNT_EXIST.
	codeDuplicate     = "1" // an object with the same identifier already exists (409)
	codeEntryNotFound = "4" // entry doesn't exist (every page's example error)

	// "Delete an initiator from an initiator group" (DELETE
	// /protocols/san/igroups/{igroup.uuid}/initiators/{name}; Trident
	// igroup_initiator_delete_responses.go).
	codeMapped         = "1254213" // igroup mapped and allow_delete_while_mapped not given
	codeNotMember      = "5374034" // an initiator is not a member of the initiator group
	codeNotOwned       = "5374041" // the initiator is not owned by the supplied igroup (nested, 9.9.1+)
	codeIgroupNotFound = "5374852" // the initiator group specified in the URI does not exist

	// "Delete a LUN map" (DELETE /protocols/san/lun-maps/{lun.uuid}/
	// {igroup.uuid}; Trident lun_map_delete_responses.go; Trident's
	// ontap_rest.go reads 5374922 as "the specified LUN map does not
	// exist" too).
	codeLUNNotFound       = "5374875" // the LUN does not exist or is not accessible
	codeMapIgroupNotFound = "5374878" // the igroup does not exist or is not in the LUN's SVM
	codeMapNotFound       = "5374922" // the LUN map does not exist

	// "Add initiators to an initiator group" (POST .../igroups/
	// {igroup.uuid}/initiators; Trident igroup_initiator_create_responses.go).
	codeSameLUNTwice     = "1254193" // the initiator would see a LUN more than once
	codeSameIDTwice      = "1254324" // the initiator would see a LUN ID for several LUN maps
	codeInitiatorPresent = "5374035" // a supplied initiator is already in the igroup

	// "Create a LUN map" (POST /protocols/san/lun-maps; Trident
	// lun_map_create_responses.go).
	codeCreateLUNNotFound = "1254201" // the specified LUN does not exist
	codeAlreadyMapped     = "1254207" // the LUN is already mapped to the same igroup
	codeSVMNotFound       = "2621462" // the SVM does not exist or is not accessible
)

// codeKinds maps each recognised code to its error kind.
var codeKinds = map[string]error{
	codeDuplicate:         storage.ErrConflict,
	codeEntryNotFound:     storage.ErrNotFound,
	codeMapped:            storage.ErrConflict,
	codeNotMember:         storage.ErrNotFound,
	codeNotOwned:          storage.ErrConflict,
	codeIgroupNotFound:    storage.ErrNotFound,
	codeLUNNotFound:       storage.ErrNotFound,
	codeMapIgroupNotFound: storage.ErrNotFound,
	codeMapNotFound:       storage.ErrNotFound,
	codeSameLUNTwice:      storage.ErrConflict,
	codeSameIDTwice:       storage.ErrConflict,
	codeInitiatorPresent:  storage.ErrConflict,
	codeCreateLUNNotFound: storage.ErrNotFound,
	codeAlreadyMapped:     storage.ErrConflict,
	codeSVMNotFound:       storage.ErrNotFound,
}

// classify returns the error kind of an error answer: by its documented
// ONTAP code when the driver knows it, otherwise by its HTTP status
// (resthttp.StatusKind: 400 is ErrInvalid, never transient; a 500 to a
// write is ErrOutcomeUnknown, since the change may have been made).
func classify(status int, code string, write bool) error {
	if kind, ok := codeKinds[code]; ok {
		return kind
	}
	return resthttp.StatusKind(status, write)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// isCode reports whether err is an ONTAP error answer with code.
func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
