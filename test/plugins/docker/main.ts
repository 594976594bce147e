// A STAND-IN for pulumi-resource-docker 5.2.0, for tests only. The real plugin
// bridges a patched Terraform provider kept as a git submodule and cannot be built
// or downloaded here, so this plugin serves just what the program uses, against a
// real Docker engine, with the upstream semantics the program relies on:
//   resources  docker:index/container:Container, docker:index/network:Network,
//              docker:index/volume:Volume, docker:index/remoteImage:RemoteImage
//   function   docker:index/getRegistryImage:getRegistryImage
//   config     host (a docker.Provider's `host`, stack config `docker:host`), else DOCKER_HOST
// Anything else (another type, an input it does not implement) fails loudly.
//
// Launch: `node <compiled>/test/plugins/docker/main.js <engine address>`, or through
// ts-node; it prints its gRPC port on stdout like every plugin.
import { DockerProvider } from "./provider";
import { serve } from "./serve";

if (require.main === module) {
    serve(new DockerProvider(), process.argv.slice(2)).catch((err: Error) => {
        console.error(`pulumi-resource-docker (stand-in): ${err.stack ?? err.message}`);
        process.exit(1);
    });
}
