# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
{
    "name": "Marketplace Connector: test channel",
    "summary": "A small channel-neutral channel and adapter the core's own "
    "tests run against (tests only, never deployed)",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "author": "Marketplace Connector contributors",
    "license": "AGPL-3",
    "installable": True,
    "depends": ["marketplace_connector"],
    "data": [],
}
