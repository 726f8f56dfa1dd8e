package etcdtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/coldstandby/coldstandby/internal/etcdtest"
)

func TestStartServesAndStops(t *testing.T) {
	var s *etcdtest.Server
	t.Run("run", func(t *testing.T) {
		s = etcdtest.Start(t)
		cli := s.Client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, etcdtest.Prefix(t)+"k", "v"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.DataDir); err != nil {
			t.Fatalf("data dir: %v", err)
		}
	})
	if s == nil {
		return // skipped: no etcd on this machine
	}
	// After the test, the server is gone and its port closed.
	if _, err := os.Stat(s.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s still there: %v", s.DataDir, err)
	}
}
