# The image that the image tests (Tests/FerryClusterTests/ImageTests.swift) run, written where
# they look for it (.build/image/ferry-<appVersion>.oci.tar). Sourced by scripts/test.sh and
# scripts/image-test.sh, after the debug build.
#
# Every CI run builds it, with scripts/image.sh exactly as a user does: the release build of
# ferry with the Swift standard library linked statically (measured: 28 minutes on two cores
# shared with two other builds, 18.5 minutes of CPU; so about 10 to 14 minutes on CI's two
# cores), then the root file system and the image (about 30 seconds to 1.5 minutes). A debug
# build cannot stand in for it: the objects of the tests' debug build were compiled against the
# shared Swift runtime, and relinking them with --static-swift-stdlib fails (Foundation's static
# libraries need what only a build with that flag links), so a static debug ferry would be a
# second full build anyway.
build_test_image() {
    if [ -n "${FERRY_IMAGE_ARCHIVE:-}" ]; then
        echo "test image: FERRY_IMAGE_ARCHIVE=$FERRY_IMAGE_ARCHIVE is tested (not built here)"
        return 0
    fi
    local started=$SECONDS
    scripts/image.sh
    echo "test image: release image built in $((SECONDS - started)) s"
}
