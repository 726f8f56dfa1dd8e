package bmc_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/bmc"
)

// dmtfMessage is one record with a MessageId found in a DMTF payload.
type dmtfMessage struct {
	file string
	path string // JSON path inside the file
	e    bmc.Event
}

// dmtfMessages walks testdata/dmtf and returns every object with a
// string MessageId: LogEntry resources (parsed with EventFromLogEntry),
// event records (EventFromEventRecord), and the Messages and Conditions
// of other resources (their MessageId, Severity and OriginOfCondition).
func dmtfMessages(t *testing.T) []dmtfMessage {
	t.Helper()
	root := filepath.Join("testdata", "dmtf")
	var out []dmtfMessage
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".json" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		submit := strings.Contains(rel, "SubmitTestEvent-request")
		var walk func(v any, path string)
		walk = func(v any, path string) {
			switch v := v.(type) {
			case map[string]any:
				if id, ok := v["MessageId"].(string); ok {
					raw, _ := json.Marshal(v)
					var e bmc.Event
					var err error
					typ, _ := v["@odata.type"].(string)
					switch {
					case strings.HasPrefix(typ, "#LogEntry."):
						e, err = bmc.EventFromLogEntry(raw)
					case submit:
						e, err = bmc.EventFromEventRecord(raw)
					default:
						var c struct {
							Severity, MessageSeverity string
							OriginOfCondition         struct {
								ID string `json:"@odata.id"`
							}
						}
						_ = json.Unmarshal(raw, &c)
						sev := c.MessageSeverity
						if sev == "" {
							sev = c.Severity
						}
						e = bmc.Event{ID: path, MessageID: id, Severity: bmc.Severity(sev), SensorName: c.OriginOfCondition.ID, Asserted: true}
					}
					if err != nil {
						t.Fatalf("%s %s: %v", rel, path, err)
					}
					out = append(out, dmtfMessage{file: filepath.ToSlash(rel), path: path, e: e})
				}
				keys := make([]string, 0, len(v))
				for k := range v {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					walk(v[k], path+"/"+k)
				}
			case []any:
				for i, x := range v {
					walk(x, path+"/"+strconv.Itoa(i))
				}
			}
		}
		walk(doc, "")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every MessageId in the DMTF example payloads and the public-rackmount1
// mockup's resources is classified as its severity and resource say.
func TestClassifyEveryMessageIDInDMTFPayloads(t *testing.T) {
	want := map[string]struct {
		ft    bmc.FaultType
		fault bool
	}{
		"Base.1.0.SettingsFailed":                      {bmc.FaultOther, true}, // no severity: the registry's Warning
		"Base.1.0.Success":                             {"", false},
		"Base.1.0.PropertyNotWritable":                 {bmc.FaultOther, true},
		"Base.1.9.ConditionInRelatedResource":          {bmc.FaultOther, true},
		"TaskEvent.1.0.4.TaskCancelled":                {bmc.FaultOther, true},
		"Event.1.0.FanWayTooSlow":                      {bmc.FaultTemperature, true}, // Critical, on Chassis/.../Thermal
		"Event.1.0.TempWayTooHot":                      {bmc.FaultTemperature, true},
		"Contoso.1.0.TempAssert":                       {bmc.FaultTemperature, true},
		"ThermalEvents.1.0.OverTemperature":            {bmc.FaultCorrectable, true}, // Warning, on Chassis/1/Power
		"Power.1.0.PowerSupplyPredictiveFailure":       {bmc.FaultCorrectable, true},
		"Sensor.1.0.ReadingAboveUpperCautionThreshold": {bmc.FaultOther, true}, // Warning; "Sensor" is no published registry
		"0x592A28": {bmc.FaultTemperature, true}, // a SEL entry: Temperature, Upper Critical going high
		"0x592E28": {bmc.FaultTemperature, true},
	}
	seen := map[string]bool{}
	msgs := dmtfMessages(t)
	if len(msgs) < 20 {
		t.Fatalf("found %d MessageIds in testdata/dmtf, want at least 20", len(msgs))
	}
	for _, m := range msgs {
		id := m.e.MessageID
		seen[id] = true
		w, ok := want[id]
		if !ok {
			t.Errorf("%s %s: MessageId %q is not in this test's table: add its expected classification", m.file, m.path, id)
			continue
		}
		got, fault := bmc.Classify(m.e)
		if got != w.ft || fault != w.fault {
			t.Errorf("%s %s: Classify(%s, severity %q, origin %q) = %q, %v; want %q, %v",
				m.file, m.path, id, m.e.Severity, m.e.SensorName, got, fault, w.ft, w.fault)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("MessageId %q of the table is in no payload", id)
		}
	}
}
