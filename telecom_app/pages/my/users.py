"""/my/users: the company's people, for its 法人管理者."""

from __future__ import annotations

from components.company_users import company_users
from components.i18n import tr
from components.my.shell import my_shell
from state.my.users import MyUsersState


def my_users_page():
    """People of the company who use this app."""
    return my_shell(tr("利用者の管理"), company_users(MyUsersState))
