package mockups_test

import (
	"encoding/json"
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/coldstandby/coldstandby/internal/mockups"
)

// TestEveryFileIsJSON: each embedded payload parses, and the licence
// travels with them.
func TestEveryFileIsJSON(t *testing.T) {
	n := 0
	err := fs.WalkDir(mockups.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		n++
		b, err := mockups.ReadFile(p)
		if err != nil {
			return err
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no mockup files embedded")
	}
	if b, err := mockups.ReadFile("LICENSE.md"); err != nil || !strings.Contains(string(b), "Distributed Management Task") {
		t.Errorf("LICENSE.md: %v", err)
	}
}

// TestCollectionsAreWhole: every member of a copied collection is copied
// too, so the servers never serve a collection whose members are missing.
func TestCollectionsAreWhole(t *testing.T) {
	for _, tc := range []struct{ mockup, collection string }{
		{mockups.BladedPartitions, "CompositionService/ResourceBlocks"},
		{mockups.BladedPartitions, "CompositionService/ResourceZones"},
		{mockups.BladedPartitions, "Systems"},
		{mockups.Composability, "CompositionService/ResourceBlocks"},
		{mockups.Composability, "CompositionService/ResourceZones"},
		{mockups.Composability, "Systems"},
		{mockups.Rackmount1, "Systems"},
		{mockups.Rackmount1, "Managers"},
		{mockups.Rackmount1, "Managers/BMC/LogServices"},
	} {
		t.Run(tc.mockup+"/"+tc.collection, func(t *testing.T) {
			b, err := mockups.ReadFile(path.Join(tc.mockup, tc.collection, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			var coll struct {
				Members []struct {
					ID string `json:"@odata.id"`
				}
			}
			if err := json.Unmarshal(b, &coll); err != nil {
				t.Fatal(err)
			}
			if len(coll.Members) == 0 {
				t.Fatal("no members")
			}
			for _, m := range coll.Members {
				rel := strings.TrimPrefix(m.ID, "/redfish/v1/")
				if _, err := mockups.ReadFile(path.Join(tc.mockup, rel, "index.json")); err != nil {
					t.Errorf("member %s: %v", m.ID, err)
				}
			}
		})
	}
}
