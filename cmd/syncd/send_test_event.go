package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/syncd/syncd/internal/config"
)

// runSendTestEvent signs a sample Clerk event the way Svix does and POSTs
// it, so a new user can see an event reach the tables without a Clerk
// account. The sample person is invented.
func runSendTestEvent(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("send-test-event", stdout)
	url := fs.String("url", "http://localhost:8080/webhooks/clerk", "webhook URL of a running syncd")
	typ := fs.String("type", "user.created", "event type: user.created, user.updated or user.deleted")
	userID := fs.String("user", "", "user id to use (default: a new random user_...)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if err := cfg.RequireWebhookSecret(); err != nil {
		return err
	}
	if *userID == "" {
		*userID = "user_" + randomHex(12)
	}
	body, err := sampleEvent(*typ, *userID, time.Now())
	if err != nil {
		return err
	}
	msgID := "msg_" + randomHex(12)
	wh, err := svix.NewWebhook(cfg.WebhookSecrets[0])
	if err != nil {
		return &config.Error{Var: "CLERK_WEBHOOK_SECRET", Problem: "cannot sign with the first secret"}
	}
	now := time.Now()
	sig, err := wh.Sign(msgID, now, body)
	if err != nil {
		return fmt.Errorf("sign test event: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return usagef("send-test-event: --url %q: %v", *url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("svix-id", msgID)
	req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("svix-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post test event to %s: %w", *url, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "sent %s for %s as %s: %s %s\n", *typ, *userID, msgID, resp.Status, strings.TrimSpace(string(reply)))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("syncd answered %s", resp.Status)
	}
	return nil
}

func sampleEvent(typ, userID string, at time.Time) ([]byte, error) {
	ms := at.UnixMilli()
	switch typ {
	case "user.created", "user.updated":
		emailID := "idn_" + randomHex(12)
		return fmt.Appendf(nil, `{"data":{"id":%q,"object":"user","external_id":null,"username":null,`+
			`"first_name":"Test","last_name":"User","image_url":"https://img.clerk.com/default.png","has_image":false,`+
			`"primary_email_address_id":%q,"primary_phone_number_id":null,`+
			`"email_addresses":[{"id":%q,"object":"email_address","email_address":"test.user+%s@example.com",`+
			`"reserved":false,"verification":{"status":"verified","strategy":"email_code"},"linked_to":[]}],`+
			`"phone_numbers":[],"web3_wallets":[],"external_accounts":[],`+
			`"public_metadata":{},"private_metadata":{},"unsafe_metadata":{},"banned":false,"locked":false,`+
			`"last_sign_in_at":null,"created_at":%d,"updated_at":%d},`+
			`"object":"event","type":%q,"timestamp":%d,"instance_id":"ins_test"}`,
			userID, emailID, emailID, randomHex(4), ms, ms, typ, ms), nil
	case "user.deleted":
		return fmt.Appendf(nil, `{"data":{"id":%q,"object":"user","deleted":true},"object":"event","type":"user.deleted","timestamp":%d,"instance_id":"ins_test"}`,
			userID, ms), nil
	}
	return nil, usagef("send-test-event: --type must be user.created, user.updated or user.deleted")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
