"""`minidl data list | download NAME|all`: where the data sets are, and fetching them."""


def add_arguments(parser):
    from ..data.sources import SHA256

    names = sorted({n.split("/")[0] for n in SHA256})
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="each data set: where it is, its size, its licence")
    fetch = sub.add_parser("download", help="download a data set into the cache folder")
    fetch.add_argument("name", choices=names + ["all"], help="a data set, or all of them")


def run(args, out=print):
    from ..data import list_datasets
    from ..data.download import download
    from ..data.sources import cache_folder, is_bundled, locate, DataNotFound

    if args.action == "list":
        out(f"{'data set':16s} {'present':8s} {'size':>9s}  {'where':40s} licence")
        for row in list_datasets():
            present = "yes" if row["where"] else "no"
            size = f"{row['size'] / 1e6:.1f} MB" if row["where"] else "-"
            where = row["where"] or f"(downloads to {cache_folder()})"
            out(f"{row['name']:16s} {present:8s} {size:>9s}  {where:40s} {row['license']}")
        return 0
    names = [row["name"] for row in list_datasets()] if args.name == "all" else [args.name]
    for name in names:
        try:
            out(f"{name}: already in {locate(name)}")
            continue
        except DataNotFound:
            pass
        if is_bundled(name) and args.name == "all":
            out(f"{name}: inside the package")
            continue
        out(f"{name}: downloaded to {download(name, log=out)}")
    return 0
