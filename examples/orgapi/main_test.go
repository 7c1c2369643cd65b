package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/clerkfake"
	"github.com/syncd/syncd/internal/syncdtest"
	"github.com/syncd/syncd/internal/testdb"
)

const (
	secretKey = "sk_test_orgapi"
	appOrigin = "https://app.example.com"
)

type env map[string]string

func (e env) get(k string) string { return e[k] }

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	good := env{"DATABASE_URL": "postgres://x@127.0.0.1/db", "CLERK_SECRET_KEY": secretKey}
	with := func(k, v string) env {
		out := env{}
		for a, b := range good {
			out[a] = b
		}
		out[k] = v
		return out
	}
	cases := []struct {
		env  env
		want string
	}{
		{with("DATABASE_URL", ""), "DATABASE_URL"},
		{with("DATABASE_URL", "::not a url::"), "DATABASE_URL"},
		{with("CLERK_SECRET_KEY", ""), "CLERK_SECRET_KEY"},
		{with("CLERK_SECRET_KEY", "pk_test_abc"), "CLERK_SECRET_KEY"},
		{with("CLERK_API_URL", "ftp://api"), "CLERK_API_URL"},
		{with("CLERK_AUTHORIZED_PARTIES", "app.example.com"), "CLERK_AUTHORIZED_PARTIES"},
		{with("ORGAPI_ADDR", "8081"), "ORGAPI_ADDR"},
	}
	for _, c := range cases {
		err := run(context.Background(), []string{"orgapi"}, c.env.get, io.Discard)
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: %v, want a configuration error (exit 2) naming %s", c.env, err, c.want)
		}
		if strings.Contains(fmtErr(err), secretKey) {
			t.Errorf("the error echoes the secret key: %v", err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// startOrgapi runs the program on a free port and returns its URL.
func startOrgapi(t *testing.T, e env) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	e["ORGAPI_ADDR"] = "127.0.0.1:0"
	go func() { done <- run(ctx, []string{"orgapi"}, e.get, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("orgapi: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("orgapi did not start: %v (%v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // drain its output so it never blocks on a write
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "orgapi listening on "))
}

type answer struct {
	status int
	body   string
}

func call(t *testing.T, url, token string, useCookie bool) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		if useCookie {
			req.AddCookie(&http.Cookie{Name: "__session", Value: token})
		} else {
			req.Header.Set("Authorization", "Bearer "+token)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	return answer{res.StatusCode, string(b)}
}

// The contract's routes, answered by `go run ./examples/orgapi` against
// tables a real syncd filled from signed webhooks.
func TestContractRoutes(t *testing.T) {
	t.Parallel()
	pool, dbURL := testdb.New(t)
	syncd := syncdtest.Start(t, dbURL)
	sessions, err := clerkfake.NewSessions("")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(clerkfake.NewAPI(clerkfake.New(1), clerkfake.APIOptions{SecretKey: secretKey, Sessions: sessions}))
	t.Cleanup(api.Close)

	m := clerkfake.New(5)
	admin, evs := m.CreateUser()
	member, more := m.CreateUser()
	evs = append(evs, more...)
	org, more, err := m.CreateOrganization(admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, more...)
	ms, more, err := m.CreateMembership(org.ID, member.ID)
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, more...)
	more, _ = m.EditMembership(ms.ID, func(x *clerkfake.Membership) { x.Role = "org:member" })
	evs = append(evs, more...)
	syncd.Deliver(t, evs...)
	syncdtest.WaitApplied(t, syncdtest.Pending(pool), 10*time.Second)

	base := startOrgapi(t, env{
		"DATABASE_URL":             dbURL,
		"CLERK_SECRET_KEY":         secretKey,
		"CLERK_API_URL":            api.URL + "/v1",
		"CLERK_AUTHORIZED_PARTIES": appOrigin + ", https://admin.example.com",
	})
	mint := func(spec clerkfake.SessionToken) string {
		if spec.AuthorizedParty == "" {
			spec.AuthorizedParty = appOrigin
		}
		if spec.Lifetime == 0 {
			spec.Lifetime = 10 * time.Minute
		}
		tok, err := sessions.Mint(spec)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	adminTok := mint(clerkfake.SessionToken{UserID: admin.ID, OrgID: org.ID, OrgRole: "org:admin"})
	// The member's token claims admin of the organization: only the synced
	// role counts.
	memberTok := mint(clerkfake.SessionToken{Version: 1, UserID: member.ID, OrgID: org.ID, OrgRole: "org:admin"})

	// GET /me
	var me struct {
		UserID              string  `json:"user_id"`
		PrimaryEmailAddress *string `json:"primary_email_address"`
		Organizations       []struct {
			OrganizationID string `json:"organization_id"`
			Role           string `json:"role"`
		} `json:"organizations"`
	}
	a := call(t, base+"/me", adminTok, false)
	if a.status != 200 || json.Unmarshal([]byte(a.body), &me) != nil {
		t.Fatalf("GET /me: %d %s", a.status, a.body)
	}
	if me.UserID != admin.ID || me.PrimaryEmailAddress == nil || *me.PrimaryEmailAddress != *admin.PrimaryEmailAddress() ||
		len(me.Organizations) != 1 || me.Organizations[0].OrganizationID != org.ID || me.Organizations[0].Role != "org:admin" {
		t.Errorf("GET /me = %s", a.body)
	}
	if a := call(t, base+"/me", mint(clerkfake.SessionToken{UserID: "user_notsyncedyet"}), true); a.status != 200 ||
		!strings.Contains(a.body, `"primary_email_address":null`) || !strings.Contains(a.body, `"organizations":[]`) {
		t.Errorf("GET /me for a user syncd has not seen (cookie): %d %s", a.status, a.body)
	}
	for name, tok := range map[string]string{
		"missing":         "",
		"malformed":       "not.a.jwt",
		"expired":         mint(clerkfake.SessionToken{UserID: admin.ID, IssuedAt: time.Now().Add(-2 * time.Minute), Lifetime: time.Minute}),
		"not yet valid":   mint(clerkfake.SessionToken{UserID: admin.ID, NotBefore: time.Now().Add(time.Minute)}),
		"foreign azp":     mint(clerkfake.SessionToken{UserID: admin.ID, AuthorizedParty: "https://evil.example"}),
		"pending session": mint(clerkfake.SessionToken{UserID: admin.ID, Status: "pending"}),
		"wrongly signed":  adminTok[:len(adminTok)-4] + "AAAA",
	} {
		a := call(t, base+"/me", tok, false)
		var body map[string]any
		if a.status != 401 || json.Unmarshal([]byte(a.body), &body) != nil || body["error"] == "" {
			t.Errorf("GET /me with a %s token: %d %s, want 401 {\"error\"}", name, a.status, a.body)
		}
	}

	// GET /orgs/{org_id}/members
	var list []struct {
		UserID              string  `json:"user_id"`
		Role                string  `json:"role"`
		PrimaryEmailAddress *string `json:"primary_email_address"`
	}
	a = call(t, base+"/orgs/"+org.ID+"/members", memberTok, false)
	if a.status != 200 || json.Unmarshal([]byte(a.body), &list) != nil || len(list) != 2 {
		t.Fatalf("members: %d %s", a.status, a.body)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.UserID+"="+x.Role)
		if x.PrimaryEmailAddress == nil {
			t.Errorf("member without email: %s", a.body)
		}
	}
	slices.Sort(got)
	want := []string{admin.ID + "=org:admin", member.ID + "=org:member"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	stranger := mint(clerkfake.SessionToken{UserID: "user_stranger", OrgID: org.ID, OrgRole: "org:admin"})
	if a := call(t, base+"/orgs/"+org.ID+"/members", stranger, false); a.status != 403 || !strings.Contains(a.body, `"error"`) {
		t.Errorf("members for a non-member: %d %s", a.status, a.body)
	}

	// GET /orgs/{org_id}/settings
	a = call(t, base+"/orgs/"+org.ID+"/settings", adminTok, false)
	if a.status != 200 || a.body != `{"organization_id":"`+org.ID+`","name":"`+org.Name+`","slug":"`+org.Slug+`"}`+"\n" {
		t.Errorf("settings for the admin: %d %s", a.status, a.body)
	}
	if a := call(t, base+"/orgs/"+org.ID+"/settings", memberTok, false); a.status != 403 {
		t.Errorf("settings for a member whose token says admin: %d %s", a.status, a.body)
	}

	// The member is removed in Clerk; syncd applies it; the same token loses
	// the members list within a second.
	evs, err = m.DeleteMembership(ms.ID)
	if err != nil {
		t.Fatal(err)
	}
	syncd.Deliver(t, evs...)
	sent := time.Now()
	for {
		a := call(t, base+"/orgs/"+org.ID+"/members", memberTok, false)
		if a.status == 403 {
			t.Logf("403 %s after the webhook was accepted", time.Since(sent).Round(time.Millisecond))
			break
		}
		if time.Since(sent) > time.Second {
			t.Fatalf("still %d %s a second after the membership was deleted", a.status, a.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := call(t, base+"/nope", adminTok, false); a.status != 404 {
		t.Errorf("unknown route: %d", a.status)
	}
}
