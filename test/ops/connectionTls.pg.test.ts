import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { connect, parseDatabaseUrl, pgEnv } from "../../ops/pg/connection";
import { atTestEnd, run, tempDir } from "../support/processes";
import { TestPostgres, startPostgresCluster } from "../support/postgres";

/**
 * `sslmode` and `sslrootcert` as libpq means them, for the driver and for pg_dump alike,
 * against a PostgreSQL serving TLS with a certificate from a throwaway CA, issued for
 * `localhost` only (as an RDS certificate names the instance's host name, not its address).
 */
describe("connection strings on TLS, against a real PostgreSQL", function () {
    this.timeout(120_000);
    let server: TestPostgres;
    let certs: string;

    async function openssl(args: string[]): Promise<void> {
        await run("openssl", args, { cwd: certs });
    }

    async function makeCa(name: string): Promise<void> {
        await openssl(
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`].concat([
                "-keyout",
                `${name}.key`,
                "-out",
                `${name}.crt`,
            ]),
        );
    }

    before(async () => {
        certs = await tempDir("safe-release-tls-");
        atTestEnd(async () => fs.rmSync(certs, { recursive: true, force: true }));
        await makeCa("test-ca");
        await makeCa("other-ca");
        await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"]);
        fs.writeFileSync(path.join(certs, "san.ext"), "subjectAltName=DNS:localhost\n");
        await openssl(
            ["x509", "-req", "-in", "server.csr", "-CA", "test-ca.crt", "-CAkey", "test-ca.key", "-CAcreateserial"].concat([
                "-days",
                "2",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ]),
        );
        server = await startPostgresCluster(
            (dir) => ["ssl=on", `ssl_cert_file=${dir}/server.crt`, `ssl_key_file=${dir}/server.key`],
            async (dir) => {
                // The server reads its key only when the key is its own and private.
                const { stdout } = await run("stat", ["-c", "%u:%g", dir]);
                const [uid, gid] = stdout.trim().split(":").map(Number);
                for (const file of ["server.crt", "server.key"]) {
                    fs.copyFileSync(path.join(certs, file), path.join(dir, file));
                    fs.chownSync(path.join(dir, file), uid, gid);
                    fs.chmodSync(path.join(dir, file), 0o600);
                }
            },
        );
    });

    function url(host: string, query: string): string {
        return `postgresql://postgres@${host}:${server.port}/postgres?${query}`;
    }

    /** Connects with the project's own client settings and asks the server whether the session is encrypted. */
    async function sessionIsEncrypted(databaseUrl: string): Promise<boolean> {
        const client = await connect(parseDatabaseUrl(databaseUrl));
        try {
            const { rows } = await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
            return rows[0].ssl as boolean;
        } finally {
            await client.end();
        }
    }

    /** pg_dump with the environment the backup step gives it. */
    function dump(databaseUrl: string) {
        const env = pgEnv(parseDatabaseUrl(databaseUrl), { PATH: process.env.PATH });
        return run(path.join(server.binDir, "pg_dump"), ["--schema-only"], { env });
    }

    it("verify-full with the CA bundle: encrypted, the certificate and the host name checked", async () => {
        assert.equal(await sessionIsEncrypted(url("localhost", `sslmode=verify-full&sslrootcert=${certs}/test-ca.crt`)), true);
        const { stdout } = await dump(url("localhost", `sslmode=verify-full&sslrootcert=${certs}/test-ca.crt`));
        assert.match(stdout, /PostgreSQL database dump complete/);
    });

    it("verify-full refuses a host name the certificate does not name, and so does pg_dump", async () => {
        const badHost = url("127.0.0.1", `sslmode=verify-full&sslrootcert=${certs}/test-ca.crt`);
        await assert.rejects(
            sessionIsEncrypted(badHost),
            /Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list: $/,
        );
        await assert.rejects(
            dump(badHost),
            /server certificate for "localhost" \(and 1 other name\) does not match host name "127\.0\.0\.1"/,
        );
    });

    it("verify-ca checks the certificate but not the host name", async () => {
        assert.equal(await sessionIsEncrypted(url("127.0.0.1", `sslmode=verify-ca&sslrootcert=${certs}/test-ca.crt`)), true);
        await dump(url("127.0.0.1", `sslmode=verify-ca&sslrootcert=${certs}/test-ca.crt`));
    });

    it("a certificate from another CA is refused by both", async () => {
        const otherCa = url("localhost", `sslmode=verify-full&sslrootcert=${certs}/other-ca.crt`);
        await assert.rejects(
            sessionIsEncrypted(otherCa),
            /unable to verify the first certificate|self[- ]signed certificate|unable to get local issuer certificate/,
        );
        await assert.rejects(dump(otherCa), /certificate verify failed/);
    });

    it("require encrypts without checking the certificate; disable does not encrypt", async () => {
        assert.equal(await sessionIsEncrypted(url("127.0.0.1", "sslmode=require")), true);
        assert.equal(await sessionIsEncrypted(url("127.0.0.1", "sslmode=disable")), false);
    });
});
