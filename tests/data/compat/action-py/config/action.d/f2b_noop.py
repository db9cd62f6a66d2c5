# A Python action written for the f2b suite. The client never imports it: it only sends its path.
from fail2ban.server.action import ActionBase


class NoopAction(ActionBase):
    def ban(self, aInfo):
        pass

    def unban(self, aInfo):
        pass


Action = NoopAction
