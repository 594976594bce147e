import * as fs from "fs";
import * as path from "path";
import { run } from "../../support/processes";

/**
 * A root filesystem assembled file by file in a staging directory, then packed
 * into a tarball for `docker import`. Images are built this way because nothing
 * can be pulled here: no base image, only the host's own Debian binaries.
 */
export class Rootfs {
    constructor(readonly dir: string) {
        fs.mkdirSync(dir, { recursive: true });
    }

    /** `absolute` is a path inside the image, e.g. `/etc/passwd`. */
    private at(absolute: string): string {
        return path.join(this.dir, absolute);
    }

    mkdir(absolute: string, mode = 0o755): this {
        fs.mkdirSync(this.at(absolute), { recursive: true });
        fs.chmodSync(this.at(absolute), mode);
        return this;
    }

    write(absolute: string, content: string | Buffer, mode = 0o644): this {
        this.mkdir(path.dirname(absolute));
        fs.writeFileSync(this.at(absolute), content);
        fs.chmodSync(this.at(absolute), mode);
        return this;
    }

    /** Copies a host file's content (following symlinks) to `absolute`, keeping its permission bits. */
    copy(hostPath: string, absolute = hostPath): this {
        this.mkdir(path.dirname(absolute));
        fs.copyFileSync(hostPath, this.at(absolute));
        fs.chmodSync(this.at(absolute), fs.statSync(hostPath).mode & 0o7777);
        return this;
    }

    symlink(target: string, absolute: string): this {
        this.mkdir(path.dirname(absolute));
        fs.rmSync(this.at(absolute), { force: true });
        fs.symlinkSync(target, this.at(absolute));
        return this;
    }

    /** Static busybox at `/bin/busybox` and one `/bin/<applet>` link per applet: `sh`, `wget`, `cat`, `grep`, `mv`, `sleep`… */
    async busybox(hostBinary: string): Promise<this> {
        this.copy(hostBinary, "/bin/busybox");
        const { stdout } = await run(hostBinary, ["--list"]);
        for (const applet of stdout.split("\n").filter((name) => /^[a-z0-9_.[-]+$/.test(name) && name !== "busybox")) {
            this.symlink("busybox", `/bin/${applet}`);
        }
        return this;
    }

    /** A dynamically linked host binary and every shared library `ldd` names, at the same paths as on the host. */
    async binaryWithLibraries(hostBinary: string): Promise<this> {
        this.copy(hostBinary);
        for (const library of await sharedLibraries(hostBinary)) this.copy(library);
        return this;
    }

    /** A reproducible tarball: sorted names, root ownership, one fixed mtime, so equal trees give equal layers. */
    async pack(tarball: string): Promise<void> {
        await run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "-C", this.dir, "-cf", tarball, "."]);
    }
}

/** The libraries (and dynamic loader) `ldd` resolves for a binary, as absolute host paths. */
export async function sharedLibraries(hostBinary: string): Promise<string[]> {
    const { stdout } = await run("ldd", [hostBinary]);
    const libraries: string[] = [];
    for (const line of stdout.split("\n")) {
        const resolved = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
        if (resolved) libraries.push(resolved[1]);
        else if (/not found/.test(line)) throw new Error(`${hostBinary} needs a library the host lacks: ${line.trim()}`);
    }
    return libraries;
}
