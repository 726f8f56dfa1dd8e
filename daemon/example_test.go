package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coldstandby/coldstandby/daemon"
	"github.com/coldstandby/coldstandby/drivers/builtin"
	"github.com/coldstandby/coldstandby/failover/site"
)

// The daemon inside a program: on the demo site (fake drivers), a fault
// posted to its API fails srv01 over.
func ExampleNew() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	dir, _ := os.MkdirTemp("", "coldstandby-example")
	defer os.RemoveAll(dir)
	demo, _ := os.ReadFile("../examples/site/demo.yaml")
	sitePath := filepath.Join(dir, "site.yaml")
	_ = os.WriteFile(sitePath, demo, 0o600)

	reg := builtin.Registry(builtin.WithFakeStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	s, _ := site.Load(sitePath)
	st, closeStore, _ := s.OpenStore(ctx, reg)
	defer closeStore()
	d, err := daemon.New(ctx, daemon.Config{SitePath: sitePath, Registry: reg, Store: st, Token: "example-token-0123456789"})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	defer func() { stop(); <-ran }()

	for {
		var st daemon.Status
		getJSON(srv.URL+"/v1/status", &st)
		if st.Leading && !st.Recovering {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/faults", strings.NewReader(`{"server":"srv01","type":"processor"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer example-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var f daemon.Fault
	_ = json.NewDecoder(resp.Body).Decode(&f)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, f.State, f.Failover)
	for {
		var fd daemon.FailoverDetail
		getJSON(srv.URL+"/v1/failovers/"+f.Failover, &fd)
		if !fd.Failover.Unfinished() {
			fmt.Println(fd.Failover.Outcome, fd.Failover.PlanText)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output:
	// 202 failing-over srv01-1767225600000000000-1
	// done exact: srv01 -> srv02
}

func getJSON(url string, v any) {
	resp, err := http.Get(url)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
}
