/**
 * bridgeline - tell the bridgeline daemon that a change request or change task changed.
 *
 * Install as a Business Rule (twice: once on Change Request [change_request], once on
 * Change Task [change_task]); see README.md next to this file.
 *
 *   When: after     Insert: true   Update: true   Delete: true   Advanced: true   Order: 1000
 *
 * It POSTs a small JSON document - the daemon reads the record itself, so nothing else is needed:
 *
 *   {"table":"change_request","sys_id":"...","number":"CHG0030007","operation":"update",
 *    "sys_mod_count":"4","sys_updated_on":"2025-03-01 10:00:00","sys_updated_by":"alex.mercer"}
 *
 * with X-Bridgeline-Delivery (a fresh id per notification) and either
 * X-Bridgeline-Signature: sha256=<hex HMAC-SHA256(secret, body)> or Authorization: Bearer <token>.
 *
 * System properties read:
 *   bridgeline.webhook_url       where the daemon listens, e.g. https://bridgeline.example.com/webhooks/servicenow
 *   bridgeline.webhook_secret    HMAC secret shared with the daemon (store it as a password2 property)
 *   bridgeline.webhook_token     alternatively, a bearer token the daemon accepts
 *   bridgeline.integration_user  the account bridgeline writes with (default bridgeline.integration);
 *                                its own writes are not sent back, so they cannot echo to Jira
 */
(function executeRule(current, previous /* null when async */) {
    var integrationUser = gs.getProperty('bridgeline.integration_user', 'bridgeline.integration');
    if (gs.getUserName() == integrationUser)
        return; // bridgeline's own write

    var url = gs.getProperty('bridgeline.webhook_url', '');
    if (!url)
        return;

    var operation = String(current.operation()); // insert | update | delete
    var payload = {
        table: String(current.getTableName()),
        sys_id: String(current.getUniqueValue()),
        number: String(current.getValue('number') || ''),
        operation: operation,
        sys_mod_count: String(current.getValue('sys_mod_count') || '0'),
        sys_updated_on: String(current.getValue('sys_updated_on') || ''),
        // a delete is made by the caller, whoever last updated the record
        sys_updated_by: operation == 'delete' ? String(gs.getUserName()) : String(current.getValue('sys_updated_by') || '')
    };
    var body = JSON.stringify(payload);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(url);
    request.setHttpMethod('post');
    request.setHttpTimeout(10000);
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('X-Bridgeline-Delivery', deliveryId());
    var secret = gs.getProperty('bridgeline.webhook_secret', '');
    if (secret)
        request.setRequestHeader('X-Bridgeline-Signature', 'sha256=' + hmacSha256Hex(secret, body));
    var token = gs.getProperty('bridgeline.webhook_token', '');
    if (token)
        request.setRequestHeader('Authorization', 'Bearer ' + token);
    request.setRequestBody(body);

    try {
        // Asynchronous: the user's save never waits for the daemon. The daemon also polls, so a
        // notification lost here only delays the update until the next poll.
        request.executeAsync();
    } catch (e) {
        gs.error('bridgeline: could not notify about ' + payload.table + ' ' + payload.number + ': ' + e);
    }

    function deliveryId() {
        var hex = String(gs.generateGUID()); // 32 hex digits
        return [hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4), hex.substr(16, 4), hex.substr(20, 12)].join('-');
    }

    function hmacSha256Hex(key, data) {
        // generateMac takes the key base64-encoded and answers the MAC base64-encoded.
        var mac = new GlideCertificateEncryption().generateMac(GlideStringUtil.base64Encode(key), 'HmacSHA256', data);
        return base64ToHex(String(mac));
    }

    function base64ToHex(text) {
        var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        var hex = '';
        var bits = 0;
        var buffer = 0;
        for (var i = 0; i < text.length; i++) {
            var value = alphabet.indexOf(text.charAt(i));
            if (value < 0)
                continue; // padding or whitespace
            buffer = (buffer << 6) | value;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                var octet = (buffer >> bits) & 0xff;
                hex += (octet < 16 ? '0' : '') + octet.toString(16);
            }
        }
        return hex;
    }
})(current, previous);
